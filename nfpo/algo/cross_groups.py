"""Intra-group learning: every group of a mixture of held flows learns from every group's
steps, each step weighted by how likely the learning group was to take it.

With held groups (``nfpo.policies.flow_mixture``) each group learns only from its own episodes,
so two groups on two sides of a fork each learn from a share of the budget, and what one
learns (the approach, the braking at the goal) never reaches the other. A step (s, u) that
the episode's group g took is also evidence about any group h that could have taken it
(intra-option learning, Sutton, Precup & Singh 1999). For h != g, with h's *own* value:

    w_h  = min(1, pi_h_old(u|s) / pi_g_old(u|s))            truncated importance weight
    A_h  = r + gamma (1 - done) V(s', h) - V(s, h)           one-step advantage for h
    r_h  = pi_h(u|s) / pi_h_old(u|s)                         h's own PPO ratio
    L_x  = c / B sum_i sum_{h != g_i} w_ih max(-A_ih r_ih, -A_ih clip(r_ih, 1 - eps, 1 + eps))

(A_h standardized over the batch's weighted pairs; r is the stored, scaled reward that GAE
uses, time-out bootstrap included). Why each piece:

- A_h scores the step by what h expects from s' on, not by what g did next: a step toward the
  other side of a fork leads where h's value is low, so it is no reason for h to go there.
  (The behaviour group's GAE advantage would credit h with g's continuation, which is the
  pull toward one side that a shared stack showed, docs/multimodal.md.)
- w_h <= 1 is small where the groups' actions differ (h would rarely take g's action), so
  groups that went different ways barely touch each other; where their actions overlap,
  each learns from the other's steps too. Truncation at 1 bounds the variance (Retrace's
  c-bar = 1); pairs with w_h < ``min_weight`` are dropped (their term is that small and
  the inverse pass is skipped).
- r_h is clipped around h's own old policy: PPO's trust region for h, unchanged.

Only the policy learns from other groups' steps; V(., h) still learns from h's episodes. The
last step of a rollout that did not end has no stored s' and takes no cross term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from nfpo.storage import Batch, RolloutStorage

LogProb = Callable[[Tensor, Tensor, Tensor], Tensor]  # (obs, u, component) -> log pi [B]


@dataclass
class CrossGroupTargets:
    """Per (step, live group) of one rollout, flattened like ``RolloutStorage.flat``: the
    importance weight ``weight`` ``[B, L]`` (0 for the step's own group, dropped pairs and
    steps without s'), standardized one-step advantage ``advantage`` ``[B, L]`` and
    ``old_log_prob`` ``[B, L]`` of the L live groups, with ``components`` ``[L]`` one lump
    of each (a group's held density does not depend on which of its lumps)."""

    weight: Tensor
    advantage: Tensor
    old_log_prob: Tensor
    components: Tensor

    @classmethod
    @torch.no_grad()
    def build(cls, storage: RolloutStorage, log_prob: LogProb,
              held_value: Callable[[Tensor, Tensor], Tensor], group_of: Tensor,
              gamma: float, min_weight: float = 0.01) -> CrossGroupTargets:
        """From a filled storage with held ``components``: ``log_prob`` the policy's
        ``log_prob``, ``held_value(value_obs, component)`` the critic's V(s, h) ``[B]`` for
        lumps of group h, ``group_of`` ``[M]`` each lump's group (merged groups have no lumps
        left)."""
        T, N = storage.num_steps, storage.num_envs
        full = storage.flat()
        live = group_of.unique()
        components = torch.stack([torch.nonzero(group_of == h)[0, 0] for h in live])
        own = group_of[full.components]  # [B]
        value_obs = full.value_obs.view(T, N, -1)
        has_next = torch.ones(T, N, dtype=torch.bool, device=full.obs.device)
        has_next[-1] = storage.dones[-1] > 0  # an unfinished last step has no stored s'
        weight, adv, old = (torch.zeros(T * N, len(live), dtype=full.obs.dtype,
                                        device=full.obs.device) for _ in range(3))
        for j, h in enumerate(live.tolist()):
            comp = components[j].expand(T * N)
            old[:, j] = log_prob(full.obs, full.actions, comp)
            v = held_value(value_obs.flatten(0, 1), comp).view(T, N)
            v_next = torch.cat([v[1:], torch.zeros_like(v[:1])])
            delta = storage.rewards + gamma * (1.0 - storage.dones) * v_next - v
            adv[:, j] = delta.flatten()
            w = (old[:, j] - full.log_probs).clamp(max=0.0).exp()
            weight[:, j] = torch.where((own != h) & has_next.flatten() & (w >= min_weight),
                                       w, torch.zeros_like(w))
        used = weight > 0
        if used.any():
            a = adv[used]
            adv = (adv - a.mean()) / (a.std() + 1e-8) if used.sum() > 1 else adv - a.mean()
        return cls(weight, adv, old, components)

    def loss(self, mb: Batch, log_prob: LogProb, clip_coef: float) -> Tensor:
        """(1/B) sum over the minibatch's weighted pairs of w max(-A r, -A clip(r)) (module
        docstring; the coefficient c is the caller's); one inverse pass per live group over
        its weighted rows only."""
        total = mb.obs.new_zeros(())
        for j in range(len(self.components)):
            w = self.weight[mb.index, j]
            rows = w > 0
            if not rows.any():
                continue
            comp = self.components[j].expand(int(rows.sum()))
            log_ratio = log_prob(mb.obs[rows], mb.actions[rows], comp) - \
                self.old_log_prob[mb.index, j][rows]
            ratio, a = log_ratio.exp(), self.advantage[mb.index, j][rows]
            surr = torch.max(-a * ratio, -a * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef))
            total = total + (w[rows] * surr).sum()
        return total / len(mb.obs)

    def mean_weight(self) -> float:
        """Mean importance weight over the (step, other group) pairs, dropped ones as 0: how
        much of the other groups' steps the groups learn from."""
        pairs = self.weight.shape[0] * max(self.weight.shape[1] - 1, 1)
        return float(self.weight.sum()) / pairs
