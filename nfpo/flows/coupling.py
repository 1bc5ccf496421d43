"""Conditional affine coupling layer with a soft-clamped log-scale (RealNVP, Dinh et al. 2017).

With a binary mask ``m`` (1 = passive, copied; 0 = active, transformed) and context ``h``:

    (s, t) = NN([h, m * z])
    s      = b * tanh(s_raw / b)        (soft clamp to (-b, b); unbounded if b is None)
    x      = m * z + (1 - m) * (z * exp(s) + t)                       forward
    z      = m * x + (1 - m) * ((x - t) * exp(-s))                    inverse
    log|det dx/dz| = sum_i (1 - m_i) * s_i

The conditioner sees only the passive half, which the layer leaves unchanged, so the same
(s, t) are recomputed exactly in the inverse direction. Masks are multiplicative (no
indexing, no ``chunk``) so the layer traces and exports cleanly. The conditioner's last layer
is zero-initialised by default: at initialisation s = t = 0 and the layer is the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nfpo.flows.base import Bijection
from nfpo.nets import mlp, orthogonal_init


class AffineCoupling(Bijection):
    """One coupling layer. ``mask: [D]`` of 0/1; ``context_dim`` C; conditioner hidden sizes.

    ``log_scale_bound`` b > 0 soft-clamps the log-scale; ``None`` leaves it unbounded (the
    naive flow, kept for ablations). Stabilizer: with large b or none, a small weight change
    rescales old actions by exp(+-s) per layer, compounding over layers, so their log-prob
    (and the PPO ratio) can collapse; float32 round-off grows with exp(|s|) too. Cost: a tanh.

    ``layernorm``: LayerNorm before each hidden activation of the conditioner. Stabilizer:
    keeps conditioner pre-activations (hence s, t) from drifting in scale as observation
    statistics change. Cost: ~10-15% more conditioner time.

    ``identity_init`` (default): the conditioner's last layer starts at zero, so the layer
    starts as the identity (s = t = 0, log|det J| = 0) and an untrained flow policy is exactly
    its base N(0, I). Stabilizer: the flow starts with the Gaussian baseline's exploration
    scale and zero log-det, instead of random per-state scales and shifts compounded over
    layers. Off: orthogonal init with gain 1 on the last layer as well. Cost: none.
    """

    def __init__(
        self,
        mask: Tensor,
        context_dim: int,
        hidden: tuple[int, ...] = (64, 64),
        log_scale_bound: float | None = 2.0,
        activation: type[nn.Module] = nn.Tanh,
        layernorm: bool = False,
        identity_init: bool = True,
    ) -> None:
        super().__init__()
        dim = mask.numel()
        self.register_buffer("mask", mask.float().clone())
        self.log_scale_bound = log_scale_bound
        self.net = orthogonal_init(
            mlp([context_dim + dim, *hidden, 2 * dim], activation, layernorm),
            0.0 if identity_init else 1.0)

    def _scale_shift(self, passive: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        out = self.net(torch.cat([context, passive], dim=-1))
        dim = self.mask.numel()
        s, t = out[..., :dim], out[..., dim:]
        if self.log_scale_bound is not None:
            b = self.log_scale_bound
            s = b * torch.tanh(s / b)
        active = 1.0 - self.mask
        return s * active, t * active

    def forward(self, z: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._scale_shift(z * self.mask, context)
        x = z * torch.exp(s) + t
        return x, s.sum(-1)

    def inverse(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._scale_shift(x * self.mask, context)
        z = (x - t) * torch.exp(-s)
        return z, -s.sum(-1)
