"""Policies behind one interface (``Policy``) and the critic."""

from __future__ import annotations

from nfpo.config import PolicyConfig
from nfpo.nets import ACTIVATIONS
from nfpo.policies.base import Policy
from nfpo.policies.critic import Critic
from nfpo.policies.flow import FlowPolicy
from nfpo.policies.flow_mixture import FlowMixturePolicy
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
    kwargs = dict(num_layers=cfg.flow_layers, hidden=cfg.flow_hidden,
                  encoder_hidden=cfg.flow_encoder, activation=act,
                  log_scale_bound=cfg.log_scale_bound, action_bound=cfg.action_bound,
                  layernorm=cfg.flow_layernorm, base_scale=cfg.flow_base_scale,
                  identity_init=cfg.flow_identity_init, base_mixture=cfg.flow_base_mixture,
                  base_mixture_std=cfg.flow_base_mixture_std,
                  base_mixture_weights=cfg.flow_base_mixture_weights,
                  transform=cfg.flow_transform, spline_bins=cfg.flow_spline_bins,
                  spline_bound=cfg.flow_spline_bound,
                  base_mixture_init=cfg.flow_base_mixture_init,
                  base_mixture_radius=cfg.flow_base_mixture_radius,
                  base_mixture_condition=cfg.flow_base_mixture_condition,
                  base_mixture_learn_std=cfg.flow_base_mixture_learn_std,
                  base_mixture_prior=cfg.flow_groups_temperature > 0)
    if cfg.flow_groups > 1:
        return FlowMixturePolicy(obs_dim, act_dim, cfg.flow_groups, cfg.flow_groups_shared,
                                 **kwargs)
    return FlowPolicy(obs_dim, act_dim, **kwargs)

def make_critic(cfg: PolicyConfig, obs_dim: int) -> Critic:
    return Critic(obs_dim, cfg.critic_hidden, ACTIVATIONS[cfg.activation])


__all__ = ["Critic", "FlowMixturePolicy", "FlowPolicy", "GaussianPolicy", "Policy", "make_critic",
           "make_policy"]
