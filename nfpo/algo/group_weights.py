"""Group weights that follow returns: a soft choice among the held groups of a mixture of flows.

With held groups (``nfpo.policies.flow_mixture``) an episode's group g is drawn once, at its
start, with probability W_g, and PPO then improves each group from its own episodes; with fixed
equal weights a group stuck on a poor path (a detour around ForkReach's wall) keeps its 1/G of
the episodes to the end. The choice of g is a one-step bandit on top of PPO. Its entropy-
regularized optimum,

    max_W  sum_g W_g R_g + tau H(W)   =>   W_g = softmax_g(R_g / tau),

keeps every group whose return is within a few tau of the best and lets a group far below it
fade. Here R_g is a running mean (rate ``rate``) of group g's episode returns, tau = T sigma
with T the temperature and sigma the reward scaler's return std (the unit of the rewards PPO
learns from), and a floor f keeps every group alive:

    W_g = (1 - f) softmax_g(R_g / (T sigma)) + f / G.

The weights change between updates only and within-group densities pi_g do not depend on
them, so PPO's ratios are unaffected. No labels: a group is an agent-side latent, its return
what the env paid.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class GroupWeights:
    """``observe(groups, returns)`` after episodes end; ``weights(sigma)`` -> W ``[G]`` (None
    until every group has finished an episode)."""

    def __init__(self, groups: int, temperature: float, floor: float = 0.1,
                 rate: float = 0.1) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature={temperature!r}: expected a number > 0")
        self.temperature, self.floor, self.rate = temperature, floor, rate
        self.returns = np.full(groups, math.nan)  # running mean return per group

    def observe(self, groups: np.ndarray, returns: np.ndarray) -> None:
        """Fold finished episodes in: their groups ``[E]`` (int) and returns ``[E]``."""
        for g, r in zip(np.asarray(groups, dtype=np.int64), np.asarray(returns), strict=True):
            old = self.returns[g]
            self.returns[g] = r if math.isnan(old) else old + self.rate * (r - old)

    def weights(self, sigma: float) -> np.ndarray | None:
        """W ``[G]`` for return scale ``sigma`` > 0 (module docstring); None while a group has
        no return yet."""
        if np.isnan(self.returns).any():
            return None
        logits = self.returns / (self.temperature * max(sigma, 1e-8))
        soft = np.exp(logits - logits.max())
        soft /= soft.sum()
        return (1.0 - self.floor) * soft + self.floor / len(soft)

    def state_dict(self) -> dict[str, Any]:
        return {"returns": [None if math.isnan(r) else float(r) for r in self.returns]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.returns = np.array([math.nan if r is None else r for r in state["returns"]])
