"""nfpo's flow policy for skrl (>= 1.4): a model mixin, used like skrl's ``GaussianMixin``::

    from skrl.models.torch import Model
    from nfpo.integrations.skrl import FlowMixin

    class Policy(FlowMixin, Model):
        def __init__(self, observation_space, action_space, device):
            Model.__init__(self, observation_space=observation_space,
                           action_space=action_space, device=device)
            FlowMixin.__init__(self, context_dim=64)
            self.net = nn.Sequential(nn.Linear(self.num_observations, 64), nn.ELU(),
                                     nn.Linear(64, 64), nn.ELU())

        def compute(self, inputs, role=""):
            return self.net(inputs["observations"]), {}   # features c: [B, context_dim]

``compute`` returns features c; the mixin's ``act`` samples u = f(z; c) from
``nfpo.policies.FlowPolicy`` (the same module as nfpo's own trainer) and returns
``(u, {"log_prob": [B, 1], "mean_actions": f(0; c)})``; with ``inputs["taken_actions"]`` it
scores those instead. skrl's PPO has the per-minibatch KL stop nfpo uses (``kl_threshold``,
e.g. 0.1, the NFPO default).

Sample-based parts (no closed form for a flow):
- ``get_entropy``: -log pi(u|s) of the reparameterized sample drawn by the last ``act``
  (one-sample Monte-Carlo), ``[B, 1]``;
- ``distribution()``: an object with ``mean`` / ``stddev`` / ``entropy()``, Monte-Carlo estimates
  over ``std_samples`` draws, for skrl's logging (it logs ``stddev`` every update).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from nfpo.integrations._flow import MonteCarloMoments, flow_head
from nfpo.integrations._versions import require

SKRL_VERSION = require("skrl", "1.4.0", "nfpo.integrations.skrl")


class FlowStats(MonteCarloMoments):
    """What skrl reads from ``model.distribution()``: Monte-Carlo ``mean`` / ``stddev``
    ``[B, D]`` (computed on first access, no gradient) and ``entropy()``, the one-sample
    estimate -log pi of the last ``act``'s sample."""

    def __init__(self, flow: Any, context: Tensor, sample_log_prob: Tensor, draws: int) -> None:
        super().__init__(flow, context, draws)
        self._logp = sample_log_prob

    @property
    def stddev(self) -> Tensor:
        return self.std

    def entropy(self) -> Tensor:
        return -self._logp


class FlowMixin:
    """skrl model mixin: a conditional flow over the model's ``compute`` features.

    Args: ``context_dim`` (the width of ``compute``'s output), ``num_layers``, ``hidden``,
    ``activation``, ``log_scale_bound`` (None = naive flow), ``layernorm``, ``base_scale``,
    ``std_samples`` (draws behind the logged mean / stddev), ``role``.
    """

    def __init__(self, *, context_dim: int, num_layers: int = 4,
                 hidden: tuple[int, ...] = (64, 64), activation: str = "elu",
                 log_scale_bound: float | None = 2.0, layernorm: bool = False,
                 base_scale: bool = False, std_samples: int = 8, role: str = "") -> None:
        self.flow = flow_head(context_dim, self.num_actions, num_layers, hidden, activation,
                              log_scale_bound, layernorm, base_scale).to(self.device)
        self._f_std_samples = std_samples
        self._f_stats: FlowStats | None = None

    def act(self, inputs: dict[str, Any], *, role: str = "") -> tuple[Tensor, dict[str, Any]]:
        context, outputs = self.compute(inputs, role)
        u, logp = self.flow.rsample_raw(context)
        self._f_stats = FlowStats(self.flow, context, logp, self._f_std_samples)
        taken = inputs.get("taken_actions")
        if taken is not None:
            outputs["log_prob"] = self.flow.log_prob_raw(context, taken).unsqueeze(-1)
        else:
            outputs["log_prob"] = logp.unsqueeze(-1)
            with torch.no_grad():
                outputs["mean_actions"] = self.flow.mode_raw(context)
        return u, outputs

    def get_entropy(self, *, role: str = "") -> Tensor:
        if self._f_stats is None:
            return torch.tensor(0.0, device=self.device)
        return self._f_stats.entropy().unsqueeze(-1)

    def distribution(self, *, role: str = "") -> FlowStats | None:
        return self._f_stats
