"""The flow head every adapter uses: ``nfpo.policies.FlowPolicy`` conditioned on a framework's
actor features (its MLP output or latent) instead of the raw observation.

    c = features(s)  (the framework's network),   u = f(z; c),  z ~ N(0, I_D)
    log pi(u|s) = log N(f^{-1}(u; c)) + log|det d f^{-1}/du|

The flow uses the NFPO default stabilizers of the policy itself: soft log-scale bound
(b = 2) and identity initialization (an untrained head is exactly N(0, I)). Algorithm-side
stabilizers (the per-minibatch KL stop) live in each framework's PPO (see the adapters).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from nfpo.errors import ConfigError
from nfpo.export.fused import FusedFlowPush
from nfpo.nets import ACTIVATIONS
from nfpo.policies import FlowPolicy


def flow_head(context_dim: int, act_dim: int, num_layers: int = 4,
              hidden: tuple[int, ...] | list[int] = (64, 64), activation: str = "elu",
              log_scale_bound: float | None = 2.0, layernorm: bool = False,
              base_scale: bool = False) -> FlowPolicy:
    """A ``FlowPolicy`` over ``act_dim`` actions conditioned on ``context_dim`` features.
    ``log_scale_bound=None`` gives the naive (unbounded) flow, for ablations only."""
    if activation not in ACTIVATIONS:
        raise ConfigError(f"activation={activation!r} is not supported; choose one of "
                          f"{sorted(ACTIVATIONS)}")
    for name, v in (("context_dim", context_dim), ("act_dim", act_dim), ("num_layers", num_layers)):
        if int(v) < 1:
            raise ConfigError(f"{name}={v!r} must be an integer >= 1")
    sizes = tuple(int(h) for h in hidden)
    return FlowPolicy(int(context_dim), int(act_dim), int(num_layers), sizes, (),
                      ACTIVATIONS[activation], log_scale_bound, "clip", layernorm, base_scale)


class MonteCarloMoments:
    """Per-state mean and standard deviation ``[B, D]`` of pi(.|c), estimated from ``draws``
    samples on first access, without gradient. For the frameworks' logging: a flow has
    neither in closed form (its deterministic action is f(0; c), not the mean)."""

    def __init__(self, flow: FlowPolicy, context: Tensor, draws: int = 8) -> None:
        self._flow, self._context, self._draws = flow, context.detach(), max(int(draws), 2)
        self._moments: tuple[Tensor, Tensor] | None = None

    @torch.no_grad()
    def _estimate(self) -> tuple[Tensor, Tensor]:
        if self._moments is None:
            u = torch.stack([self._flow.rsample_raw(self._context)[0]
                             for _ in range(self._draws)])
            self._moments = (u.mean(0), u.std(0))
        return self._moments

    @property
    def mean(self) -> Tensor:
        return self._estimate()[0]

    @property
    def std(self) -> Tensor:
        return self._estimate()[1]


class FlowMode(nn.Module):
    """Export head: features ``[B, C]`` -> deterministic action f(0; c) ``[B, D]``, a frozen,
    fused copy of the flow (TorchScript- and ONNX-exportable)."""

    def __init__(self, flow: FlowPolicy) -> None:
        super().__init__()
        self.push = FusedFlowPush(copy.deepcopy(flow))  # detached from later training
        self.act_dim = flow.act_dim

    def forward(self, context: Tensor) -> Tensor:
        z = torch.zeros(context.shape[0], self.act_dim, dtype=context.dtype,
                        device=context.device)
        return self.push(context, z)
