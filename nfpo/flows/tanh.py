"""Tanh squashing bijection R^D -> (-1, 1)^D.

    a = tanh(u)
    log|det da/du| = sum_i log(1 - tanh(u_i)^2) = sum_i 2 * (log 2 - u_i - softplus(-2 u_i))

The softplus form is exact and finite for every float ``u``; ``log(1 - tanh(u)^2)`` is not
(in float32, tanh(u) rounds to +-1 for |u| > 9.01). Policies therefore store the pre-squash
``u`` and never invert a saturated action; ``inverse`` is provided for completeness and clamps
its input to the open interval.
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor


def tanh_log_abs_det(u: Tensor) -> Tensor:
    """log|det d tanh(u)/du| summed over the last dimension. ``u: [B, D] -> [B]``."""
    return (2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)
