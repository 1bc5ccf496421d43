"""Conditional rational-quadratic spline coupling (Durkan et al. 2019, "Neural Spline Flows").

Each active coordinate passes through a monotone rational-quadratic spline on [-B, B] with K
bins, and through the identity outside it (linear tails, slope 1, so the map is C^1 at +-B).
With a binary mask ``m`` (1 = passive, copied; 0 = active) and context ``h`` the conditioner
NN([h, m * z]) gives, per coordinate, K bin widths and K heights (softmax, each at least
``min_bin``) and K - 1 interior knot derivatives (softplus + ``min_derivative``; 1 at +-B).

In bin k with knots (x_k, y_k), width w_k, height h_k, slope s_k = h_k / w_k, knot derivatives
d_k, d_k+1 and theta = (x - x_k) / w_k in [0, 1]:

    y       = y_k + h_k (s_k theta^2 + d_k theta (1 - theta)) / D(theta)
    D       = s_k + (d_k+1 + d_k - 2 s_k) theta (1 - theta)
    dy/dx   = s_k^2 (d_k+1 theta^2 + 2 s_k theta (1 - theta) + d_k (1 - theta)^2) / D^2
    inverse: theta is the root in [0, 1] of a theta^2 + b theta + c = 0 with
             a = h_k (s_k - d_k) + (y - y_k) (d_k+1 + d_k - 2 s_k)
             b = h_k d_k - (y - y_k) (d_k+1 + d_k - 2 s_k),  c = -s_k (y - y_k)
             theta = 2c / (-b - sqrt(b^2 - 4ac))      (the numerically stable form)
    log|det dx/dz| = sum over active coordinates inside [-B, B] of log dy/dx

A 1-D spline with K bins can fold one lump into up to K, where an affine map only shifts and
scales it. Bins are found by counting knots below the input (no ``searchsorted``), so the layer
exports to ONNX. With ``identity_init`` the conditioner's last layer starts at zero: uniform
bins and unit derivatives, i.e. the identity (log|det J| = 0), as for ``AffineCoupling``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nfpo.flows.base import Bijection
from nfpo.nets import mlp, orthogonal_init


def _knots(raw: Tensor, bound: float, min_bin: float) -> tuple[Tensor, Tensor]:
    """Knot positions ``[..., K+1]`` from -B to B and bin sizes ``[..., K]`` of raw logits."""
    k = raw.shape[-1]
    size = min_bin + (1.0 - min_bin * k) * torch.softmax(raw, -1)
    cum = F.pad(torch.cumsum(size, -1), (1, 0))
    knots = 2.0 * bound * cum - bound
    ends = torch.ones_like(knots[..., :1]) * bound
    knots = torch.cat([-ends, knots[..., 1:-1], ends], -1)  # exact ends
    return knots, knots[..., 1:] - knots[..., :-1]


def _pick(t: Tensor, idx: Tensor) -> Tensor:
    """t[..., idx] for ``idx [...]`` (one index per coordinate)."""
    return t.gather(-1, idx.unsqueeze(-1)).squeeze(-1)


def rq_spline(x: Tensor, w_raw: Tensor, h_raw: Tensor, d_raw: Tensor, bound: float,
              inverse: bool = False, min_bin: float = 1e-3, min_derivative: float = 1e-3
              ) -> tuple[Tensor, Tensor]:
    """Elementwise monotone RQ spline on [-B, B], identity outside. ``x: [...]``;
    ``w_raw, h_raw: [..., K]``, ``d_raw: [..., K-1]``. Returns (y, log dy/dx) of the direction
    computed (forward, or the inverse map and its own log-derivative)."""
    xk, widths = _knots(w_raw, bound, min_bin)
    yk, heights = _knots(h_raw, bound, min_bin)
    ones = torch.ones_like(d_raw[..., :1])
    # knot derivatives; raw 0 gives 1 (with uniform bins: the identity)
    inner = min_derivative + (1.0 - min_derivative) * F.softplus(d_raw) / math.log(2.0)
    deriv = torch.cat([ones, inner, ones], -1)
    inside = (x > -bound) & (x < bound)
    xc = x.clamp(-bound, bound)
    knots = yk if inverse else xk
    idx = (xc.unsqueeze(-1) >= knots[..., 1:-1]).sum(-1)  # bin index in [0, K-1]
    x_k, w, y_k, h = _pick(xk, idx), _pick(widths, idx), _pick(yk, idx), _pick(heights, idx)
    d0, d1 = _pick(deriv, idx), _pick(deriv[..., 1:], idx)
    s = h / w
    curve = d1 + d0 - 2 * s
    if inverse:
        dy = xc - y_k
        a = h * (s - d0) + dy * curve
        b = h * d0 - dy * curve
        c = -s * dy
        disc = (b.pow(2) - 4 * a * c).clamp(min=0.0)
        theta = (2 * c / (-b - torch.sqrt(disc))).clamp(0.0, 1.0)
    else:
        theta = ((xc - x_k) / w).clamp(0.0, 1.0)
    tt = theta * (1 - theta)
    den = s + curve * tt
    out = theta * w + x_k if inverse else y_k + h * (s * theta.pow(2) + d0 * tt) / den
    log_d = (2 * torch.log(s) + torch.log(d1 * theta.pow(2) + 2 * s * tt + d0 * (1 - theta).pow(2))
             - 2 * torch.log(den))
    if inverse:
        log_d = -log_d
    return torch.where(inside, out, x), torch.where(inside, log_d, torch.zeros_like(log_d))


class SplineCoupling(Bijection):
    """One RQ-spline coupling layer. ``mask: [D]`` of 0/1; ``context_dim`` C; conditioner
    hidden sizes; ``bins`` K; ``bound`` B (the spline's interval; identity outside).

    Where ``AffineCoupling`` bounds its log-scale, the spline is bounded by construction:
    it maps [-B, B] onto itself, so it cannot translate mass away or scale it without limit,
    and outside [-B, B] it is the identity. ``identity_init`` (default): zero last layer,
    the layer starts as the identity.
    """

    def __init__(self, mask: Tensor, context_dim: int, hidden: tuple[int, ...] = (64, 64),
                 bins: int = 8, bound: float = 3.0, activation: type[nn.Module] = nn.Tanh,
                 layernorm: bool = False, identity_init: bool = True) -> None:
        super().__init__()
        if bins < 2:
            raise ValueError(f"bins={bins!r}: expected an integer >= 2")
        dim = mask.numel()
        self.register_buffer("mask", mask.float().clone())
        self.bins, self.bound = bins, bound
        self.net = orthogonal_init(
            mlp([context_dim + dim, *hidden, dim * (3 * bins - 1)], activation, layernorm),
            0.0 if identity_init else 1.0)

    def _spline(self, v: Tensor, context: Tensor, inverse: bool) -> tuple[Tensor, Tensor]:
        out = self.net(torch.cat([context, v * self.mask], dim=-1))
        out = out.reshape(*v.shape, 3 * self.bins - 1)
        k = self.bins
        y, log_d = rq_spline(v, out[..., :k], out[..., k:2 * k], out[..., 2 * k:], self.bound,
                             inverse)
        active = 1.0 - self.mask
        return v * self.mask + y * active, (log_d * active).sum(-1)

    def forward(self, z: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(z, context, inverse=False)

    def inverse(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        return self._spline(x, context, inverse=True)
