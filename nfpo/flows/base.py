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
    """Composition f = f_K o ... o f_1; log-dets add up."""

    def __init__(self, layers: list[Bijection]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward_layers(self, z: Tensor, context: Tensor) -> tuple[Tensor, list[Tensor]]:
        """x = f(z) and the forward log-det of each layer (``K`` tensors ``[B]``)."""
        per_layer = []
        for layer in self.layers:
            z, ld = layer(z, context)
            per_layer.append(ld)
        return z, per_layer

    def forward(self, z: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        x, per_layer = self.forward_layers(z, context)
        return x, torch.stack(per_layer).sum(0)

    def inverse(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        total = x.new_zeros(x.shape[0])
        for layer in reversed(self.layers):
            x, ld = layer.inverse(x, context)
            total = total + ld
        return x, total

