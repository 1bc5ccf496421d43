"""nfpo's flow policy for Stable-Baselines3 (>= 2.0): ``PPO(FlowPolicy, env)``.

SB3's ``ActorCriticPolicy`` maps observations to an actor latent ``c`` (its ``mlp_extractor``);
``FlowPolicy`` replaces the diagonal Gaussian on top of it with ``nfpo.policies.FlowPolicy``
conditioned on ``c``: u = f(z; c), z ~ N(0, I), exact log pi(u|s). Everything else (value head,
features extractor, optimizer, save / load, ``predict``) is SB3's own::

    from stable_baselines3 import PPO
    from nfpo.integrations.sb3 import FlowPolicy
    model = PPO(FlowPolicy, "Hopper-v5", target_kl=0.067,
                policy_kwargs={"flow_kwargs": {"num_layers": 4, "hidden": (64, 64)}})

SB3 clips actions to the Box for the env and stores the unclipped sample, so log-probs are of
the unclipped u (as in nfpo's ``clip`` action bound). SB3's ``target_kl`` checks a KL estimate
before each minibatch step, nfpo's per-minibatch KL stop (docs/stability.md); its own check
stops at 1.5 x target_kl, so 0.067 matches nfpo's default of 0.1.

Entropy: the flow has none in closed form. ``entropy="reparam"`` (default) returns the
one-sample Monte-Carlo estimate -log pi(u'|s) of a fresh reparameterized sample (one extra flow
pass per minibatch; correct gradient for ``ent_coef > 0``). ``entropy="none"`` returns None,
and SB3 then logs -mean(log pi) of the stored actions instead (free; use it with
``ent_coef=0``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from nfpo.errors import ConfigError
from nfpo.integrations._flow import flow_head
from nfpo.integrations._versions import require

SB3_VERSION = require("stable-baselines3", "2.0.0", "nfpo.integrations.sb3")

from gymnasium import spaces  # noqa: E402
from stable_baselines3.common.distributions import Distribution  # noqa: E402
from stable_baselines3.common.policies import ActorCriticPolicy  # noqa: E402

from nfpo.policies import FlowPolicy as _Flow  # noqa: E402

ENTROPY_ESTIMATES = ("reparam", "none")


class FlowDistribution(Distribution):
    """SB3 ``Distribution`` over a conditional flow; ``proba_distribution(c)`` conditions it on
    the actor latent ``c: [B, C]``. Log-probs and entropies are ``[B]``."""

    def __init__(self, flow: _Flow, entropy: str = "reparam") -> None:
        super().__init__()
        if entropy not in ENTROPY_ESTIMATES:
            raise ConfigError(f"entropy={entropy!r}; choose one of {ENTROPY_ESTIMATES}")
        self.flow, self.entropy_estimate = flow, entropy
        self.context: Tensor | None = None
        self._last: tuple[Tensor, Tensor] | None = None  # (u, log pi) of the last sample

    def proba_distribution_net(self, *args: Any, **kwargs: Any) -> _Flow:
        return self.flow

    def proba_distribution(self, context: Tensor) -> FlowDistribution:
        self.context, self._last = context, None
        return self

    def log_prob(self, actions: Tensor) -> Tensor:
        if self._last is not None and actions is self._last[0]:  # the sample's own log-prob
            return self._last[1]
        return self.flow.log_prob_raw(self.context, actions)

    def entropy(self) -> Tensor | None:
        if self.entropy_estimate == "none":
            return None
        return -self.flow.rsample_raw(self.context)[1]

    def sample(self) -> Tensor:
        self._last = self.flow.rsample_raw(self.context)
        return self._last[0]

    def mode(self) -> Tensor:
        return self.flow.mode_raw(self.context)

    def actions_from_params(self, context: Tensor, deterministic: bool = False) -> Tensor:
        return self.proba_distribution(context).get_actions(deterministic=deterministic)

    def log_prob_from_params(self, context: Tensor) -> tuple[Tensor, Tensor]:
        actions = self.actions_from_params(context)
        return actions, self.log_prob(actions)


class FlowPolicy(ActorCriticPolicy):
    """``ActorCriticPolicy`` with a flow head. ``flow_kwargs`` go to the flow (``num_layers``,
    ``hidden``, ``activation``, ``log_scale_bound``, ``layernorm``, ``base_scale``);
    ``entropy`` is the estimate described in the module docstring."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space,
                 lr_schedule: Any, *args: Any, flow_kwargs: dict[str, Any] | None = None,
                 entropy: str = "reparam", **kwargs: Any) -> None:
        if not isinstance(action_space, spaces.Box):
            raise ConfigError(f"FlowPolicy needs a continuous (Box) action space, got "
                              f"{action_space}")
        if kwargs.get("use_sde") or kwargs.get("squash_output"):
            raise ConfigError("FlowPolicy does not support use_sde or squash_output")
        self.flow_kwargs, self.entropy = dict(flow_kwargs or {}), entropy
        super().__init__(observation_space, action_space, lr_schedule, *args, **kwargs)

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)  # extractor, value head; the Gaussian head is replaced:
        flow = flow_head(self.mlp_extractor.latent_dim_pi, int(self.action_space.shape[0]),
                         **self.flow_kwargs)
        self.action_dist = FlowDistribution(flow, self.entropy)
        self.action_net = flow
        del self.log_std
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1),
                                              **self.optimizer_kwargs)

    def _get_action_dist_from_latent(self, latent_pi: Tensor) -> FlowDistribution:
        return self.action_dist.proba_distribution(latent_pi)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "flow_kwargs": self.flow_kwargs,
                "entropy": self.entropy}


__all__ = ["SB3_VERSION", "FlowDistribution", "FlowPolicy"]
