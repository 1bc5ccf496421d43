"""Policies behind one interface (``Policy``) and the critic."""

from __future__ import annotations

from nfpo.config import PolicyConfig
from nfpo.nets import ACTIVATIONS
from nfpo.policies.base import Policy
from nfpo.policies.critic import Critic
from nfpo.policies.flow import FlowPolicy
from nfpo.policies.gaussian import GaussianPolicy


def make_policy(cfg: PolicyConfig, obs_dim: int, act_dim: int) -> Policy:
    """Build the actor named by ``cfg.kind``."""
    act = ACTIVATIONS[cfg.activation]
    if cfg.kind == "gaussian":
        return GaussianPolicy(obs_dim, act_dim, cfg.actor_hidden, act, cfg.init_log_std,
                              cfg.action_bound)
    if cfg.kind == "flow-naive":  # the ablation baseline: no stabilizer, whatever else is set
        return FlowPolicy(obs_dim, act_dim, cfg.flow_layers, cfg.flow_hidden, cfg.flow_encoder,
                          act, None, cfg.action_bound)
    return FlowPolicy(obs_dim, act_dim, cfg.flow_layers, cfg.flow_hidden, cfg.flow_encoder, act,
                      cfg.log_scale_bound, cfg.action_bound, cfg.flow_layernorm,
                      cfg.flow_base_scale, cfg.flow_identity_init, cfg.flow_base_mixture,
                      cfg.flow_base_mixture_std, cfg.flow_base_mixture_weights,
                      cfg.flow_transform, cfg.flow_spline_bins, cfg.flow_spline_bound,
                      cfg.flow_base_mixture_init, cfg.flow_base_mixture_radius,
                      cfg.flow_base_mixture_condition, cfg.flow_base_mixture_learn_std)


def make_critic(cfg: PolicyConfig, obs_dim: int) -> Critic:
    return Critic(obs_dim, cfg.critic_hidden, ACTIVATIONS[cfg.activation])


__all__ = ["Critic", "FlowPolicy", "GaussianPolicy", "Policy", "make_critic", "make_policy"]
