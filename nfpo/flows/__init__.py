"""Bijections for conditional normalizing flows. No RL in here."""

from nfpo.flows.base import Bijection, FlowSequence, standard_normal_log_prob
from nfpo.flows.coupling import AffineCoupling
from nfpo.flows.spline import SplineCoupling
from nfpo.flows.tanh import tanh_log_abs_det

__all__ = [
    "AffineCoupling",
    "Bijection",
    "FlowSequence",
    "SplineCoupling",
    "standard_normal_log_prob",
    "tanh_log_abs_det",
]
