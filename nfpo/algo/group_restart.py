"""Restart a lagging group of a mixture of held flows as a copy of a good one (and copy the
lumps of a merge).

``nfpo.algo.group_weights.GroupWeights.lagging`` names the pair (g-, g+): a group more than
``flow_groups_restart`` sigma below the best, and the good group nearest to it by where its
episodes went. ``copy_parts`` then sets, for each (dst, i, src, j) of
``Agent.group_parts(g-, g+)``,

    dst[i] <- src[j]        (the stack's weights, the lumps' means, V's group column)

and the same for the optimizer's per-parameter state (Adam's first and second moments), so
after the copy pi_g-(.|s) = pi_g+(.|s), V(s, g-) = V(s, g+), and the next Adam step moves both
alike until their own episodes differ. The copy is a restart, not a reset: the group leaves
its detour at once with the donor's skill, instead of relearning from exploration, and keeps
learning from its own episodes.

A merge (``GroupWeights.mergeable``, ``FlowMixturePolicy.merge_group``) uses the same copy for
the joining group's lumps only: they take the host's means, then the host's stack pushes them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor


@torch.no_grad()
def copy_parts(parts: list[tuple[Tensor, Any, Tensor, Any]],
               optimizer: torch.optim.Optimizer) -> None:
    """dst[i] = src[j] for every part, and the same for every optimizer state tensor shaped
    like its parameter (a parameter the optimizer has not stepped yet keeps no state)."""
    for dst, i, src, j in parts:
        dst[i] = src[j].clone()
        state_d, state_s = optimizer.state.get(dst), optimizer.state.get(src)
        if not state_d or not state_s:
            continue
        for key, value in state_d.items():
            if torch.is_tensor(value) and value.shape == dst.shape:
                value[i] = state_s[key][j].clone()
