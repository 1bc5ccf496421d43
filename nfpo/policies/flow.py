"""Conditional normalizing-flow policy pi(u|s).

    z ~ N(0, I_D),   u = f_K o ... o f_1 (z; h(s))
    log p(u|s) = log N(z) - sum_k log|det df_k/dz_{k-1}|        (sampling: one forward pass)
               = log N(f^{-1}(u)) + sum_k log|det df_k^{-1}|     (scoring: one inverse pass)

Each f_k is an affine coupling layer (``nfpo.flows.AffineCoupling``) with alternating masks;
conditioners read the observation features ``h(s)`` (the normalized observation, or the output
of an optional shared encoder) and the passive half of the action. Zero-initialised last
layers make an untrained flow exactly the base Gaussian N(0, I). The deterministic action is
f(0; h(s)). For D = 1 every layer transforms the single coordinate conditioned on ``h`` only.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nfpo.flows import AffineCoupling, FlowSequence, standard_normal_log_prob
from nfpo.nets import mlp, orthogonal_init
from nfpo.policies.base import ActionBound, Policy


def alternating_masks(dim: int, num_layers: int) -> list[Tensor]:
    """Masks m_k[i] = (i + k) mod 2 (1 = passive). For dim == 1, all zeros."""
    if dim == 1:
        return [torch.zeros(1) for _ in range(num_layers)]
    idx = torch.arange(dim)
    return [((idx + k) % 2).float() for k in range(num_layers)]


class FlowPolicy(Policy):
    def __init__(
        self,
        obs_dim: int,
        act_dim: int,
        num_layers: int = 4,
        hidden: tuple[int, ...] = (64, 64),
        encoder_hidden: tuple[int, ...] = (),
        activation: type[nn.Module] = nn.Tanh,
        log_scale_bound: float | None = 2.0,
        action_bound: ActionBound = "clip",
        layernorm: bool = False,
        base_scale: bool = False,
        identity_init: bool = True,
    ) -> None:
        super().__init__(obs_dim, act_dim, action_bound)
        if encoder_hidden:
            enc = orthogonal_init(mlp([obs_dim, *encoder_hidden], activation), 2**0.5)
            self.encoder: nn.Module = nn.Sequential(enc, activation())
            context_dim = encoder_hidden[-1]
        else:
            self.encoder = nn.Identity()
            context_dim = obs_dim
        self.flow = FlowSequence(
            [
                AffineCoupling(m, context_dim, hidden, log_scale_bound, activation, layernorm,
                               identity_init)
                for m in alternating_masks(act_dim, num_layers)
            ]
        )
        # optional learned, state-independent base scale: the flow is a residual on top of a
        # Gaussian with a PPO-style log-std (the Gaussian's proven way to shrink exploration)
        self.base_log_std = nn.Parameter(torch.zeros(act_dim)) if base_scale else None

    def _base(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """z -> sigma * z and its log-det sum(log sigma) (identity without a base scale)."""
        if self.base_log_std is None:
            return z, z.new_zeros(z.shape[0])
        return z * self.base_log_std.exp(), self.base_log_std.sum().expand(z.shape[0])

    def rsample_raw(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        h = self.encoder(obs)
        z = torch.randn(obs.shape[0], self.act_dim, dtype=obs.dtype, device=obs.device)
        zs, ld_base = self._base(z)
        u, logdet = self.flow(zs, h)
        return u, standard_normal_log_prob(z) - ld_base - logdet

    def log_prob_raw(self, obs: Tensor, u: Tensor) -> Tensor:
        zs, logdet = self.flow.inverse(u, self.encoder(obs))
        if self.base_log_std is None:
            return standard_normal_log_prob(zs) + logdet
        z = zs * torch.exp(-self.base_log_std)
        return standard_normal_log_prob(z) - self.base_log_std.sum() + logdet

    def push(self, obs: Tensor, z: Tensor) -> Tensor:
        return self.flow(self._base(z)[0], self.encoder(obs))[0]

    @torch.no_grad()
    def diagnostics(self, obs: Tensor) -> dict[str, float]:
        """log|det J| of the forward pass on fresh samples, total and per layer: mean, min and
        max over the batch."""
        obs = obs.to(self.compute_dtype)
        h = self.encoder(obs)
        z = torch.randn(obs.shape[0], self.act_dim, dtype=obs.dtype, device=obs.device)
        _, per_layer = self.flow.forward_layers(self._base(z)[0], h)
        logdet = torch.stack(per_layer).sum(0)
        out = {"flow/logdet_mean": logdet.mean().item(), "flow/logdet_min": logdet.min().item(),
               "flow/logdet_max": logdet.max().item()}
        for k, ld in enumerate(per_layer):
            out[f"flow/layer{k}_logdet_mean"] = ld.mean().item()
            out[f"flow/layer{k}_logdet_min"] = ld.min().item()
            out[f"flow/layer{k}_logdet_max"] = ld.max().item()
        if self.base_log_std is not None:
            out["flow/base_log_std_mean"] = self.base_log_std.mean().item()
        return out
