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

A group the weights starve learns from few episodes and stays where it is (a detour around
ForkReach's wall). ``lagging`` names a restart instead: the group g- with the lowest return,
if R_best - R_g- > gap sigma, is to become a copy of the donor

    g+ = argmin_{g : R_best - R_g <= gap sigma} ||d_g - d_g-||,

the good group whose running mean episode descriptor d_g (mean normalized observation and
action of its episodes, ``nfpo.algo.outcome.EpisodeDescriptors``) is nearest: where it went,
so a copy stays on the lagging group's side of a fork when a good group is there. The copy
(``nfpo.algo.group_restart``) starts with the donor's R and d. With a radius rho, only a donor
with ||d_g+ - d_g-|| < rho qualifies: a lagging group whose nearest good group went elsewhere
(the only group on its side of a fork) is left to learn on its own path. With ``mutual``,
only a pair of mutual nearest live groups qualifies (g- is also g+'s nearest): a side's only
group is then not copied from the other side whatever the distances, since g+'s nearest is
a group of its own side.

Groups that went the same way learn the same thing from a quarter of the episodes each.
``mergeable`` names two good groups whose descriptors are within a radius r,
||d_g - d_h|| < r (the closest such pair): the one with the lower return joins the other
(its lumps move onto the other's and are pushed by the other's stack), so one stack learns
from both groups' episodes. A merged group is dead: weight 0, never a donor; the weights'
softmax and floor run over the live groups.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class GroupWeights:
    """``observe(groups, returns, descriptors)`` after episodes end; ``weights(sigma)`` -> W
    ``[G]`` (None until every group has finished an episode); ``lagging(sigma, gap)`` -> a
    restart, ``mergeable(sigma, gap, radius)`` -> a merge (module docstring) or None."""

    def __init__(self, groups: int, temperature: float, floor: float = 0.1,
                 rate: float = 0.1, alive: np.ndarray | None = None) -> None:
        """``alive`` ``[G]``: the groups not merged away (default all), e.g. those that own a
        lump of a policy loaded with ``--init-from`` from a run with merges."""
        if temperature <= 0:
            raise ValueError(f"temperature={temperature!r}: expected a number > 0")
        self.temperature, self.floor, self.rate = temperature, floor, rate
        self.returns = np.full(groups, math.nan)  # running mean return per group
        self.outcomes: np.ndarray | None = None  # running mean descriptor per group [G, D]
        self.restarts = 0  # restarts done (``copy``)
        self.alive = np.ones(groups, dtype=bool) if alive is None else \
            np.asarray(alive, dtype=bool).copy()  # False: merged into another group

    def observe(self, groups: np.ndarray, returns: np.ndarray,
                descriptors: np.ndarray | None = None) -> None:
        """Fold finished episodes in: their groups ``[E]`` (int), returns ``[E]`` and, for
        restarts, episode descriptors ``[E, D]``."""
        groups = np.asarray(groups, dtype=np.int64)
        for i, (g, r) in enumerate(zip(groups, np.asarray(returns), strict=True)):
            first = math.isnan(self.returns[g])
            self.returns[g] = r if first else self.returns[g] + self.rate * (r - self.returns[g])
            if descriptors is not None:
                if self.outcomes is None:
                    self.outcomes = np.full((len(self.returns), descriptors.shape[1]), math.nan)
                d = self.outcomes[g]
                self.outcomes[g] = descriptors[i] if first else d + self.rate * (descriptors[i] - d)

    def lagging(self, sigma: float, gap: float, radius: float | None = None,
                mutual: bool = False) -> tuple[int, int] | None:
        """(g-, g+): the group to restart and its donor (module docstring), or None while no
        group is more than ``gap`` sigma below the best (or a group has no return or
        descriptor yet), or while the nearest good group is ``radius`` or farther from it
        (None: any distance),
        or (``mutual``) while g- is not g+'s nearest live group."""
        behind = self._behind()
        if behind is None:
            return None
        worst = int(np.argmax(np.where(self.alive, behind, -np.inf)))
        if behind[worst] <= gap * sigma:
            return None
        good = np.flatnonzero(behind <= gap * sigma)
        dist = np.linalg.norm(self.outcomes[good] - self.outcomes[worst], axis=1)
        donor = int(good[np.argmin(dist)])
        if (radius is not None and dist.min() >= radius) or \
                (mutual and self._nearest_live(donor) != worst):
            return None
        return worst, donor

    def _nearest_live(self, g: int) -> int:
        """The live group (other than g) whose descriptor is nearest to g's."""
        dist = np.linalg.norm(self.outcomes - self.outcomes[g], axis=1)
        dist[~self.alive] = np.inf
        dist[g] = np.inf
        return int(np.argmin(dist))

    def mergeable(self, sigma: float, gap: float, radius: float) -> tuple[int, int] | None:
        """(g, h): the group that joins and the group it joins (module docstring): the closest
        pair of good groups (within ``gap`` sigma of the best; every live group for gap 0)
        whose descriptors are less than ``radius`` apart, g the one with the lower return."""
        behind = self._behind()
        if behind is None:
            return None
        good = np.flatnonzero(behind <= gap * sigma) if gap else np.flatnonzero(self.alive)
        best, pair = radius, None
        for a in good:
            for b in good[good > a]:
                dist = float(np.linalg.norm(self.outcomes[a] - self.outcomes[b]))
                if dist < best:
                    best, pair = dist, (int(a), int(b))
        if pair is None:
            return None
        a, b = pair
        return (a, b) if self.returns[a] < self.returns[b] else (b, a)

    def merge(self, dst: int, src: int) -> None:
        """Group ``dst`` joined ``src``: it is dead from now on (no return, no weight)."""
        self.alive[dst], self.returns[dst] = False, math.nan
        self.outcomes[dst] = math.nan

    def _behind(self) -> np.ndarray | None:
        """R_best - R_g ``[G]`` over the live groups (inf for dead ones), or None while a live
        group has no return or descriptor."""
        live = self.alive
        if self.outcomes is None or np.isnan(self.returns[live]).any() or \
                np.isnan(self.outcomes[live]).any():
            return None
        return np.where(live, self.returns[live].max() - self.returns, np.inf)

    def copy(self, dst: int, src: int) -> None:
        """Group ``dst`` restarts as a copy of ``src``: it takes src's running return and
        descriptor."""
        self.returns[dst] = self.returns[src]
        if self.outcomes is not None:
            self.outcomes[dst] = self.outcomes[src]
        self.restarts += 1

    def weights(self, sigma: float) -> np.ndarray | None:
        """W ``[G]`` for return scale ``sigma`` > 0 (module docstring); None while a group has
        no return yet."""
        live = self.alive
        if np.isnan(self.returns[live]).any():
            return None
        logits = self.returns[live] / (self.temperature * max(sigma, 1e-8))
        soft = np.exp(logits - logits.max())
        soft /= soft.sum()
        out = np.zeros(len(live))
        out[live] = (1.0 - self.floor) * soft + self.floor / len(soft)
        return out

    def state_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"returns": [None if math.isnan(r) else float(r)
                                           for r in self.returns]}
        if self.outcomes is not None:  # (only with restarts: older checkpoints lack it)
            out["outcomes"] = [[None if math.isnan(v) else float(v) for v in row]
                               for row in self.outcomes]
            out["restarts"] = self.restarts
        if not self.alive.all():
            out["alive"] = self.alive.tolist()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.returns = np.array([math.nan if r is None else r for r in state["returns"]])
        if "outcomes" in state:
            self.outcomes = np.array([[math.nan if v is None else v for v in row]
                                      for row in state["outcomes"]])
            self.restarts = state["restarts"]
        self.alive = np.array(state.get("alive", [True] * len(self.returns)))
