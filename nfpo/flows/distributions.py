"""Base distributions q(z) of a flow: what the bijections push forward.

Every base has ``sample(n, like) -> z [n, D]``, ``log_prob(z) -> [B]`` and
``center(eps) -> z``: the base point that a standard-normal ``eps`` stands for in a
deterministic push (``FlowPolicy.push``; eps = 0 gives the deterministic action).

``StandardNormal``:   q(z) = N(0, I_D);  center(eps) = eps.
``GaussianMixture``:  q(z) = sum_k w_k N(z; mu_k, s^2 I_D), learned means mu_k
    (initialised ~ N(0, I), or ``init="sphere"``: spread over the sphere of radius r by
    farthest-point selection among 4,096 random directions), fixed std s, weights uniform or
    w = softmax(l) with learned logits (initially 0); std fixed, or learned (``learn_std``: one
    log s shared by the components, so PPO can sharpen every lump at once). With ``prior`` a
    buffer b (initially 0) that a rule outside the gradient sets (``set_prior``; the mixture of
    flows' group weights, ``nfpo.algo.group_weights``) joins the logits: w = softmax(l + b):

        log q(z) = logsumexp_k [log w_k - ||z - mu_k||^2 / (2 s^2)] - D log s - (D/2) log 2 pi

    Sampling draws k ~ w (or takes a given k: a component held over an episode,
    ``nfpo.policies.noise.HeldComponent``), then z = mu_k + s eps: reparameterized in mu (the
    draw of k carries no gradient; learned logits get theirs through log q). Given k,
    ``log_prob(z, k)`` is the component's own density log q(z|k) = log N(z; mu_k, s^2 I).
    center(eps) = mu_k* + s eps for the component k* whose mean has the highest density under
    q's kernels, k* = argmax_k sum_j w_j exp(-||mu_k - mu_j||^2 / (2 s^2)).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over the last dimension. ``z: [B, D] -> [B]``."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * torch.log(z.new_tensor(2 * torch.pi)))


def spread_directions(k: int, dim: int, candidates: int = 4096) -> Tensor:
    """``k`` unit vectors ``[k, dim]`` spread over the sphere: farthest-point selection among
    ``candidates`` random directions (torch's global generator). In 2-D they come out nearly
    evenly spaced on the circle."""
    v = torch.randn(candidates, dim)
    v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return v[farthest_points(v, k)]


def farthest_points(x: Tensor, k: int) -> list[int]:
    """Indices of ``k`` of the points ``x`` ``[N, D]`` picked greedily, each the farthest from
    those already picked (point 0 first)."""
    idx = [0]
    d = (x - x[0]).norm(dim=1)
    for _ in range(1, k):
        i = int(d.argmax())
        idx.append(i)
        d = torch.minimum(d, (x - x[i]).norm(dim=1))
    return idx


class StandardNormal(nn.Module):
    """q(z) = N(0, I_D); no parameters."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def sample(self, n: int, like: Tensor) -> Tensor:
        """``[n, D]`` draws in ``like``'s dtype and device."""
        return torch.randn(n, self.dim, dtype=like.dtype, device=like.device)

    def log_prob(self, z: Tensor) -> Tensor:
        return standard_normal_log_prob(z)

    def center(self, eps: Tensor) -> Tensor:
        return eps


class GaussianMixture(nn.Module):
    """M-component isotropic Gaussian mixture (module docstring); ``weights``: learn the
    mixture weights (else uniform); ``learn_std``: learn the shared std (starting at ``std``);
    ``prior``: log-weights b ``[M]`` set by ``set_prior`` (a buffer: saved, not learned)."""

    def __init__(self, dim: int, components: int, std: float = 0.3,
                 weights: bool = False, init: str = "normal", radius: float = 1.2,
                 learn_std: bool = False, prior: bool = False) -> None:
        super().__init__()
        if components < 2:
            raise ValueError(f"components={components!r}: a mixture needs >= 2")
        if init not in ("normal", "sphere"):
            raise ValueError(f"init={init!r}: accepted values are 'normal' and 'sphere'")
        self.dim, self.std = dim, std
        means = torch.randn(components, dim) if init == "normal" else \
            radius * spread_directions(components, dim)
        self.means = nn.Parameter(means)
        self.logits = nn.Parameter(torch.zeros(components)) if weights else None
        self.log_std = nn.Parameter(torch.tensor(math.log(std))) if learn_std else None
        self.log_prior: Tensor | None
        self.register_buffer("log_prior", torch.zeros(components) if prior else None)

    @property
    def uniform(self) -> bool:
        """Whether w is fixed at 1/M (no learned logits, no prior)."""
        return self.logits is None and self.log_prior is None

    @torch.no_grad()
    def set_prior(self, log_prior: Tensor) -> None:
        """Set the prior log-weights b ``[M]`` (only up to a constant: w = softmax(l + b))."""
        if self.log_prior is None:
            raise RuntimeError("set_prior needs a mixture built with prior=True")
        self.log_prior.copy_(log_prior)

    def scale(self) -> Tensor | float:
        """s: the fixed std, or exp(log s) when learned."""
        return self.std if self.log_std is None else self.log_std.exp()

    def _log_scale(self) -> Tensor | float:
        return math.log(self.std) if self.log_std is None else self.log_std

    def _log_norm(self) -> Tensor | float:
        """log of a component's normalizer: D log s + (D/2) log 2 pi."""
        return self.dim * self._log_scale() + 0.5 * self.dim * math.log(2 * math.pi)

    def log_weights(self) -> Tensor:
        """log w_k ``[M]``."""
        m = len(self.means)
        if self.uniform:
            return self.means.new_full((m,), -math.log(m))
        if self.logits is None:
            return torch.log_softmax(self.log_prior, 0)
        return torch.log_softmax(self.logits if self.log_prior is None
                                 else self.logits + self.log_prior, 0)

    def probs(self) -> Tensor:
        """w ``[M]`` (no gradient): what a component is drawn from."""
        return self.log_weights().detach().exp()

    def sample(self, n: int, like: Tensor, component: Tensor | None = None) -> Tensor:
        """``[n, D]`` draws; ``component`` ``[n]`` (long): use these components instead of
        drawing them."""
        eps = torch.randn(n, self.dim, dtype=like.dtype, device=like.device)
        k = component.to(like.device) if component is not None else \
            self.draw_components(n, like.device)
        return self.means[k] + self.scale() * eps

    def log_prob(self, z: Tensor, component: Tensor | None = None) -> Tensor:
        """log q(z) ``[B]``; with ``component`` ``[B]`` (long) log q(z|k), the component's own
        density (no weight)."""
        s, m, const = self.scale(), len(self.means), self._log_norm()
        if component is not None:
            mu = self.means[component.to(z.device)]
            return -0.5 * ((z - mu) / s).pow(2).sum(-1) - const
        sq = ((z[:, None, :] - self.means) / s).pow(2).sum(-1)  # [B, M]
        if self.uniform:  # weights 1/M
            return torch.logsumexp(-0.5 * sq, 1) - const - math.log(m)
        return torch.logsumexp(self.log_weights() - 0.5 * sq, 1) - const

    def center_index(self) -> int:
        """k*: the component whose mean has the highest density under q's kernels."""
        mu, w, s = self.means, self.log_weights().exp(), self.scale()
        return int(torch.cdist(mu, mu).pow(2).div(-2 * s**2).exp().mv(w).argmax())

    def center(self, eps: Tensor) -> Tensor:
        return self.means[self.center_index()] + self.scale() * eps

    def component_log_probs(self, z: Tensor) -> Tensor:
        """log w_k + log N(z; mu_k, s^2 I) for every component, ``[B, D] -> [B, M]``."""
        sq = ((z[:, None, :] - self.means) / self.scale()).pow(2).sum(-1)
        return self.log_weights() - 0.5 * sq - self._log_norm()

    def draw_components(self, n: int, device: torch.device | str = "cpu") -> Tensor:
        """``[n]`` component indices drawn from w (long, no gradient)."""
        if self.uniform:
            return torch.randint(len(self.means), (n,), device=device)
        # learned logits alone: softmax as before the prior existed (the same draws as runs
        # committed earlier); with a prior, probs() = exp(log_softmax(l + b))
        w = torch.softmax(self.logits.detach(), 0) if self.log_prior is None else self.probs()
        return torch.multinomial(w, n, True).to(device)
