"""Bijections and base distributions for conditional normalizing flows. No RL in here."""

from nfpo.flows.base import Bijection, FlowSequence
from nfpo.flows.coupling import AffineCoupling
from nfpo.flows.distributions import GaussianMixture, StandardNormal, standard_normal_log_prob
from nfpo.flows.spline import SplineCoupling
from nfpo.flows.tanh import tanh_log_abs_det

__all__ = [
    "AffineCoupling",
    "Bijection",
    "FlowSequence",
    "GaussianMixture",
    "SplineCoupling",
    "StandardNormal",
    "standard_normal_log_prob",
    "tanh_log_abs_det",
]
