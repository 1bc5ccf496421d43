"""The bijection interface and sequential composition.

A conditional bijection ``f(.; h)`` maps a base sample ``z`` to ``x = f(z; h)`` given a context
``h`` (observation features). Every bijection returns the log-absolute-determinant of the
Jacobian of the direction it computes, summed over the event dimension, so that for
``x = f(z)`` with ``z ~ p_z``:

    log p_x(x) = log p_z(z) - log|det df/dz|          (forward, used when sampling)
               = log p_z(f^{-1}(x)) + log|det df^{-1}/dx|   (inverse, used when scoring)
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Bijection(nn.Module):
    """Base class. Shapes: ``z, x: [B, D]``, ``context: [B, C]``, ``logdet: [B]``."""

    def forward(self, z: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D401
        """x = f(z; h) and log|det df/dz|."""
        raise NotImplementedError

    def inverse(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        """z = f^{-1}(x; h) and log|det df^{-1}/dx| (= minus the forward log-det at z)."""
        raise NotImplementedError


class FlowSequence(Bijection):
    """Composition f = f_K o ... o f_1; log-dets add up.

    Besides the totals, the last call's per-layer log-dets are kept in ``self.layer_logdets``
    (a list of ``[B]`` tensors, detached) for diagnostics.
    """

    def __init__(self, layers: list[Bijection]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.layer_logdets: list[Tensor] = []

    def forward(self, z: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        total = z.new_zeros(z.shape[0])
        per_layer = []
        for layer in self.layers:
            z, ld = layer(z, context)
            total = total + ld
            per_layer.append(ld.detach())
        self.layer_logdets = per_layer
        return z, total

    def inverse(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        per_layer = []
        for layer in reversed(self.layers):
            x, ld = layer.inverse(x, context)
            total = total + ld
            per_layer.append(-ld.detach())
        self.layer_logdets = per_layer[::-1]
        return x, total


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension. ``z: [B, D] -> [B]``."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * torch.log(z.new_tensor(2 * torch.pi)))
