"""Per-update diagnostics of policy optimization and the divergence guard.

``UpdateStats`` accumulates what one PPO update sees (log-ratios of every minibatch, KL, clip
fraction, gradient norms per module) and summarises it; ``rollout_stats`` describes the data
the policy produced; ``DivergenceGuard`` stops a run when a metric leaves its allowed range.
"""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor, nn

from nfpo.errors import ConfigError, DivergenceError


def grad_norms(named: dict[str, list[nn.Parameter]]) -> dict[str, float]:
    """L2 norm of the gradients of each named group of parameters, and of all (``total``)."""
    out: dict[str, float] = {}
    sq_total = 0.0
    for name, params in named.items():
        sq = sum(float(p.grad.detach().pow(2).sum()) for p in params if p.grad is not None)
        out[name] = math.sqrt(sq)
        sq_total += sq
    out["total"] = math.sqrt(sq_total)
    return out


def module_groups(policy: nn.Module, critic: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Parameters grouped by the policy's top-level children (e.g. ``encoder``, ``flow``,
    ``mean_net``, ``log_std``) plus ``critic``."""
    groups: dict[str, list[nn.Parameter]] = {}
    for name, p in policy.named_parameters():
        groups.setdefault(name.split(".")[0], []).append(p)
    groups["critic"] = list(critic.parameters())
    return groups


class UpdateStats:
    def __init__(self) -> None:
        self.log_ratios: list[Tensor] = []
        self.sums: dict[str, float] = {}
        self.n = 0

    def add(self, log_ratio: Tensor, scalars: dict[str, float]) -> None:
        self.log_ratios.append(log_ratio.detach())
        for k, v in scalars.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.n += 1

    def summary(self) -> dict[str, float]:
        out = {k: v / max(self.n, 1) for k, v in self.sums.items()}
        if self.log_ratios:
            lr = torch.cat(self.log_ratios)
            finite = torch.isfinite(lr)
            out["policy/log_ratio_nonfinite"] = float((~finite).sum())
            lr = lr[finite]
            if lr.numel():
                q = torch.quantile(lr, torch.tensor([0.01, 0.99]))
                out.update({"policy/log_ratio_min": lr.min().item(),
                            "policy/log_ratio_p01": q[0].item(),
                            "policy/log_ratio_p99": q[1].item(),
                            "policy/log_ratio_max": lr.max().item()})
        return out


@torch.no_grad()
def rollout_stats(log_probs: Tensor, actions: Tensor, action_bound: str) -> dict[str, float]:
    """Log-probs of the sampled actions and the fraction of saturated action coordinates
    (|u| > 1 under clipping: the env sees the boundary; |tanh u| > 0.999 under tanh)."""
    sat = (actions.abs() > 1.0) if action_bound == "clip" else (torch.tanh(actions).abs() > 0.999)
    return {"rollout/log_prob_mean": log_probs.mean().item(),
            "rollout/log_prob_max": log_probs.max().item(),
            "rollout/action_abs_max": actions.abs().max().item(),
            "rollout/saturated_fraction": sat.float().mean().item()}


_BOUND = re.compile(r"^\s*([\w/.\-]+)\s*([<>])\s*([-+0-9.eE]+|inf|-inf)\s*$")


class DivergenceGuard:
    """Bounds on logged metrics, e.g. ``"policy/log_ratio_min>-20,flow/logdet_max<30"``.

    ``check(metrics, update)`` raises ``DivergenceError`` naming the first metric that is NaN
    or outside its bound. An empty spec only checks nothing (NaN/Inf in losses, gradients and
    parameters are always fatal elsewhere)."""

    def __init__(self, spec: str = "") -> None:
        self.bounds: list[tuple[str, str, float]] = []
        for item in filter(None, (s.strip() for s in spec.split(","))):
            m = _BOUND.match(item)
            if not m:
                raise ConfigError(f"invalid guard bound {item!r}: expected METRIC<VALUE or "
                                  "METRIC>VALUE, e.g. policy/log_ratio_min>-20")
            self.bounds.append((m.group(1), m.group(2), float(m.group(3))))

    def check(self, metrics: dict[str, float], update: int) -> None:
        for key, op, value in self.bounds:
            if key not in metrics:
                raise DivergenceError(f"guard metric {key!r} is not logged; logged metrics: "
                                      f"{', '.join(sorted(metrics))}")
            x = metrics[key]
            ok = (x < value) if op == "<" else (x > value)
            if not ok:  # NaN fails both comparisons
                raise DivergenceError(f"divergence guard: {key}={x:.4g} violates {key}{op}"
                                      f"{value:g} at update {update}")
