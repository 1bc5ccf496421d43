"""The exported computation: raw observation (+ base noise) -> env-unit action.

    x = clip((obs - mean) / sqrt(var + eps), -c, c)      observation normalizer (if enabled)
    u = push(x, z)                                        z = 0 (deterministic) or an input
    a = bound(u)                                          clip to [-1, 1] or tanh
    action = low + (a + 1) / 2 * (high - low)             env units
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nfpo.agent import Agent
from nfpo.errors import ExportError
from nfpo.export.fused import FusedFlowPush
from nfpo.flows import GaussianMixture
from nfpo.policies import FlowPolicy


class PolicyGraph(nn.Module):
    """``forward(obs)`` (deterministic) or ``forward(obs, noise)`` (stochastic). ``obs: [B, O]``,
    ``noise: [B, D]`` standard normal, output ``[B, D]`` in the env's action units."""

    def __init__(self, agent: Agent, action_low: list[float], action_high: list[float],
                 stochastic: bool = False, fused: bool = True) -> None:
        super().__init__()
        self.obs_norm, self.policy = agent.obs_norm, agent.policy
        # flows: masks folded into weights (same function, fewer ops); see export/fused.py
        self.push = FusedFlowPush(agent.policy) if fused and isinstance(
            agent.policy, FlowPolicy) else agent.policy.push
        self.normalize = agent.normalize_obs
        if stochastic and isinstance(getattr(agent.policy, "base_dist", None), GaussianMixture):
            raise ExportError("a stochastic export of a flow with a mixture base "
                              "(--flow-base-mixture) is not supported: its noise input would "
                              "sample one mixture component only; export it deterministic")
        self.stochastic = stochastic
        self.register_buffer("low", torch.tensor(action_low, dtype=torch.float32))
        self.register_buffer("high", torch.tensor(action_high, dtype=torch.float32))
        # float32 normalizer constants, so the graph holds no float64 ops
        self.register_buffer("mean", agent.obs_norm.mean.float().clone())
        self.register_buffer("inv_std", torch.rsqrt(agent.obs_norm.var.float()
                                                    + agent.obs_norm.eps))
        self.clip = float(agent.obs_norm.clip)

    def forward(self, obs: Tensor, noise: Tensor | None = None) -> Tensor:
        x = ((obs - self.mean) * self.inv_std).clamp(-self.clip, self.clip) \
            if self.normalize else obs
        if noise is None:
            noise = torch.zeros(obs.shape[0], self.policy.act_dim, dtype=obs.dtype)
        a = self.policy.to_action(self.push(x, noise))
        return self.low + 0.5 * (a + 1.0) * (self.high - self.low)
