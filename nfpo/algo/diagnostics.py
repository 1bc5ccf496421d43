"""Per-update diagnostics of policy optimization.

``UpdateStats`` accumulates what one PPO update sees (log-ratios of every minibatch, KL, clip
fraction, gradient norms per module) and summarises it; ``rollout_stats`` describes the data
the policy produced. The divergence guard is ``nfpo.guard.DivergenceGuard``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class GradNorms:
    """The L2 norm of each parameter's gradient, taken once per step (one foreach kernel):
    ``named`` gives the norms of named groups and of all (``total``) for logging, ``clip_``
    scales the gradients as ``torch.nn.utils.clip_grad_norm_`` does, from the same norms
    instead of a second pass (bit-identical: the same per-tensor norms, stacked in the same
    order, the same scale; tests/test_ppo.py)."""

    def __init__(self, params: list[nn.Parameter]) -> None:
        self.params = [p for p in params if p.grad is not None]
        self.grads = [p.grad.detach() for p in self.params]
        self.norms = torch._foreach_norm(self.grads) if self.grads else []
        self.index = {id(p): i for i, p in enumerate(self.params)}
        self.mixed = len({(g.dtype, g.device) for g in self.grads}) > 1  # e.g. a float64 policy

    def named(self, groups: dict[str, list[nn.Parameter]]) -> dict[str, float]:
        """L2 norm of the gradients of each named group of parameters, and of all
        (``total``)."""
        sq = torch.stack(self.norms).pow(2) if self.norms and not self.mixed else None
        values: dict[str, float] = {}
        for name, params in groups.items():
            rows = [self.index[id(p)] for p in params if id(p) in self.index]
            if not rows:  # no gradient in this group (e.g. a merged group's stack)
                continue
            part = sq[rows] if sq is not None else torch.stack([self.norms[i] for i in rows]).pow(2)
            values[name] = float(part.sum())
        out = {name: math.sqrt(values.get(name, 0.0)) for name in groups}
        out["total"] = math.sqrt(sum(values.get(name, 0.0) for name in groups))
        return out

    @torch.no_grad()
    def clip_(self, max_norm: float) -> None:
        """g <- g min(1, max_norm / (||g|| + 1e-6)) over every gradient (``clip_grad_norm_``
        itself where the gradients differ in dtype or device)."""
        if not self.grads:
            return
        if self.mixed:
            nn.utils.clip_grad_norm_(self.params, max_norm)
            return
        total = torch.linalg.vector_norm(torch.stack(self.norms))
        torch._foreach_mul_(self.grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))


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

    def add_log_ratio(self, log_ratio: Tensor) -> None:
        """Log-ratios of a minibatch that got no gradient step (it stopped the update)."""
        self.log_ratios.append(log_ratio.detach())

    def summary(self) -> dict[str, float]:
        out = {k: v / max(self.n, 1) for k, v in self.sums.items()}
        if self.log_ratios:
            lr = torch.cat(self.log_ratios)
            finite = torch.isfinite(lr)
            out["policy/log_ratio_nonfinite"] = float((~finite).sum())
            lr = lr[finite]
            if lr.numel():
                q = torch.quantile(lr, torch.tensor([0.01, 0.99], device=lr.device))
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
