"""Rollout inference in numpy: the per-step actor sample and critic value of CPU rollouts.

A rollout step evaluates the actor and the critic on a handful of observations. At that size
torch's per-call dispatch dominates: a 2x64 MLP on one row took 184 us through torch and
49 us as numpy matmuls (Gaussian actor + critic); a 4-layer coupling flow's sample 985 us
against 247 us (benchmarks/peers/README.md). ``NumpyRollout`` runs the same math in float32
numpy on *views* of the torch parameters (``Tensor.numpy()`` shares storage), so the
optimizer's in-place steps and ``load_state_dict`` are seen without copying.

The base noise comes from torch's global generator with the same draws as the torch path
(``torch.randn(N, D)``), so a run consumes the same random stream; results agree with the
torch path to float32 rounding (the matmul libraries differ in summation order), not bit for
bit. Math, per step (``x``: normalized observation ``[N, O]``, ``z ~ N(0, I)`` ``[N, D]``):

- Gaussian: u = mu(x) + sigma z, log p = sum(-z^2/2 - log sigma) - (D/2) log 2 pi.
- Flow: u = f_K(... f_1(sigma_b z)), each affine coupling x' = x exp(s) + t on its active
  half with s = b tanh(s_raw / b); log p = log N(z) - sum log sigma_b - sum_k sum s_k.
- A mixture of held flows (``FlowMixturePolicy``, one stack per group): z = mu_k + s eps for
  the held lump k, u = f_g(k)(z), log p = log q_g(z) - log W_g - sum_k sum s_k.
- ``tanh`` bound: log pi = log p - sum 2 (log 2 - u - softplus(-2u)).
- Critic: V(x) = MLP(x) (the collector appends the held group's one-hot when it reads it).

``NumpyRollout.build`` returns None for what it does not cover (spline couplings, one flow
over a mixture base, a shared group stack, LayerNorm, a float64 actor, non-CPU tensors); the
collector then keeps the torch path. Runs of held groups made before 2026-12-07 took the
torch path (same draws; results agree to float32 rounding, not bit for bit).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from nfpo.flows.coupling import AffineCoupling
from nfpo.flows.distributions import GaussianMixture, StandardNormal
from nfpo.policies.base import Policy
from nfpo.policies.flow import FlowPolicy
from nfpo.policies.flow_mixture import FlowMixturePolicy
from nfpo.policies.gaussian import GaussianPolicy

Fn = Callable[[np.ndarray], np.ndarray]
_LOG_2PI = math.log(2 * math.pi)
_ACTS: dict[type, Fn] = {
    nn.Tanh: np.tanh,
    nn.ReLU: lambda h: np.maximum(h, 0.0),
    nn.ELU: lambda h: np.where(h > 0, h, np.expm1(np.minimum(h, 0.0))),
}


def _view(p: torch.Tensor) -> np.ndarray:
    if p.device.type != "cpu" or p.dtype != torch.float32:
        raise TypeError(p.dtype)
    return p.detach().numpy()


def mlp_fn(net: nn.Module) -> Fn | None:
    """numpy forward of an ``nn.Sequential`` of Linear and Tanh/ReLU/ELU layers (nested
    Sequentials allowed; views of its weights); None for any other layer."""
    if not isinstance(net, nn.Sequential):
        return None
    steps: list[tuple[np.ndarray, np.ndarray] | Fn] = []
    for m in net:
        if isinstance(m, nn.Sequential):
            inner = mlp_fn(m)
            if inner is None:
                return None
            steps.append(inner)
        elif isinstance(m, nn.Linear):
            steps.append((_view(m.weight).T, _view(m.bias)))
        elif type(m) in _ACTS and (type(m) is not nn.ELU or m.alpha == 1.0):
            steps.append(_ACTS[type(m)])
        else:
            return None

    def forward(h: np.ndarray) -> np.ndarray:
        for step in steps:
            h = h @ step[0] + step[1] if isinstance(step, tuple) else step(h)
        return h

    return forward


def _softplus(v: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, v).astype(np.float32)


class NumpyRollout:
    """``sample(x, z) -> (u, log pi)`` and ``value(xc) -> V`` in numpy (module docstring)."""

    def __init__(self, sample: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
                 value: Fn, tanh: bool) -> None:
        self._sample, self._value, self.tanh = sample, value, tanh

    @classmethod
    def build(cls, policy: Policy, critic: nn.Module, held: bool = False
              ) -> NumpyRollout | None:
        """``held``: rollouts hold mixture components (``sample`` then takes them)."""
        try:
            value_net = mlp_fn(critic.net)
            if isinstance(policy, FlowMixturePolicy):
                sample = _flow_groups(policy) if held else None
            elif held:
                sample = None  # a held lump of one flow: its marginal or conditional density
            elif isinstance(policy, GaussianPolicy):
                sample = _gaussian(policy)
            else:
                sample = _flow(policy) if isinstance(policy, FlowPolicy) else None
        except (TypeError, AttributeError):
            return None
        if value_net is None or sample is None:
            return None
        return cls(sample, lambda xc: value_net(xc)[:, 0], policy.action_bound == "tanh")

    def sample(self, x: np.ndarray, z: np.ndarray, component: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """(u ``[N, D]``, log pi(u|x) ``[N]``) for base noise ``z`` (and held mixture
        components ``[N]``: their group's density), float32."""
        u, logp = self._sample(x, z) if component is None else self._sample(x, z, component)
        if self.tanh:
            logp = logp - (2.0 * (math.log(2.0) - u - _softplus(-2.0 * u))).sum(-1)
        return u.astype(np.float32), logp.astype(np.float32)

    def to_action(self, u: np.ndarray) -> np.ndarray:
        """``Policy.to_action`` in numpy: tanh(u) or clip(u, -1, 1)."""
        return np.tanh(u) if self.tanh else np.minimum(np.maximum(u, -1.0), 1.0)  # = np.clip

    def value(self, xc: np.ndarray) -> np.ndarray:
        return self._value(xc).astype(np.float32)


def _gaussian(policy: GaussianPolicy):
    mean = mlp_fn(policy.mean_net)
    log_std = _view(policy.log_std)
    if mean is None:
        return None

    def sample(x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        u = mean(x) + z * np.exp(log_std)
        logp = (-0.5 * z * z - log_std).sum(-1) - 0.5 * z.shape[-1] * _LOG_2PI
        return u, logp

    return sample


def _stack_fn(stack: nn.Module):
    """numpy push of a coupling stack: (h ``[N, C]``, z ``[N, D]``, log p ``[N]``) ->
    (u, log p minus each layer's log-scale in turn), or None for anything but affine
    couplings of MLPs."""
    layers = []
    for layer in stack.layers:
        if not isinstance(layer, AffineCoupling):
            return None
        net = mlp_fn(layer.net)
        if net is None:
            return None
        mask = _view(layer.mask)
        layers.append((net, mask, 1.0 - mask, layer.log_scale_bound))

    def push(h: np.ndarray, u: np.ndarray, logp: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
        d = u.shape[-1]
        for net, mask, active, bound in layers:
            out = net(np.concatenate([h, u * mask], -1))
            s, t = out[:, :d], out[:, d:]
            if bound is not None:
                s = bound * np.tanh(s / bound)
            s, t = s * active, t * active
            u = u * np.exp(s) + t
            logp = logp - s.sum(-1)
        return u, logp

    return push


def _encoder(policy: FlowPolicy) -> Fn | None:
    identity: Fn = lambda x: x  # noqa: E731
    return identity if isinstance(policy.encoder, nn.Identity) else mlp_fn(policy.encoder)


def _flow(policy: FlowPolicy):
    if not isinstance(policy.base_dist, StandardNormal):
        return None
    encoder, push = _encoder(policy), _stack_fn(policy.flow)
    base_log_std = None if policy.base_log_std is None else _view(policy.base_log_std)
    if encoder is None or push is None:
        return None

    def sample(x: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = z.shape[-1]
        logp = -0.5 * (z * z).sum(-1) - 0.5 * d * _LOG_2PI
        u = z
        if base_log_std is not None:
            u = u * np.exp(base_log_std)
            logp = logp - base_log_std.sum()
        return push(encoder(x), u, logp)

    return sample


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = a.max(axis, keepdims=True)
    return (m + np.log(np.exp(a - m).sum(axis, keepdims=True))).squeeze(axis)


def _flow_groups(policy: FlowMixturePolicy):
    """The held sample of a mixture of flows with one stack per group: for held lumps k
    ``[N]`` and eps ``[N, D]``, z = mu_k + s eps, u = f_g(k)(z; h(x)) and
    log pi_g(u|x) = log q_g(z) - log W_g - sum log-scales, with
    q_g(z) = sum_{j in g} w_j N(z; mu_j, s^2 I) (``FlowMixturePolicy``)."""
    base = policy.base_dist
    if policy.shared or not isinstance(base, GaussianMixture):
        return None
    encoder, pushes = _encoder(policy), [_stack_fn(stack) for stack in policy.stacks]
    if encoder is None or any(p is None for p in pushes):
        return None
    means, group_of = _view(base.means), policy.group_of.numpy()  # views: merges seen
    logits = None if base.logits is None else _view(base.logits)
    prior = None if base.log_prior is None else base.log_prior.numpy()
    log_std = None if base.log_std is None else _view(base.log_std)
    m, d = means.shape

    def log_weights() -> np.ndarray:
        """``GaussianMixture.log_weights`` from the views (the prior moves between rollouts)."""
        if logits is None and prior is None:
            return np.full(m, -math.log(m), dtype=np.float32)
        a = logits if prior is None else prior if logits is None else logits + prior
        return a - _logsumexp(a, 0)

    def sample(x: np.ndarray, eps: np.ndarray, k: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
        scale = base.std if log_std is None else np.exp(log_std)
        log_scale = math.log(base.std) if log_std is None else log_std
        z = means[k] + scale * eps
        h, g, lw = encoder(x), group_of[k], log_weights()
        comp = lw - 0.5 * (((z[:, None, :] - means) / scale) ** 2).sum(-1) \
            - (d * log_scale + 0.5 * d * _LOG_2PI)  # [N, M]
        u, logp = np.empty_like(z), np.empty(len(z), dtype=z.dtype)
        for gi in np.unique(g):
            rows, inside = g == gi, group_of == gi
            log_q = _logsumexp(comp[rows][:, inside], 1) - _logsumexp(lw[inside], 0)
            u[rows], logp[rows] = pushes[gi](h[rows], z[rows], log_q)
        return u, logp

    return sample
