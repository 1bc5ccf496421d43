"""Outcome-entropy bonus: a restoring force toward every good *trajectory*, not just action.

A per-step entropy bonus rewards spread in each action; once the first steps of an episode have
gone one way, the other ways are no longer good actions and the policy commits to one mode
(benchmarks/multimodal/). This bonus acts on what whole episodes do instead. Each finished
episode gets a descriptor d: its mean (normalized) observation and its mean action, a
task-agnostic summary of where it went and how. A Gaussian kernel density over the
descriptors of the last ``buffer`` episodes,

    log p_hat(d) = logsumexp_j( -||d - d_j||^2 / (2 h^2) ) - log M,

gives the bonus added to the episode's last reward (before reward scaling):

    b = coef * ( -log p_hat(d) - c ),  c = running mean of -log p_hat (so b averages ~0).

For outcomes that form well-separated clusters with shares p_k, -log p_hat ~ -log p_k + const,
so the return of mode k rises by -coef log p_k: PPO then follows
max sum_k p_k (R_k - coef log p_k), whose optimum is p_k ~ exp(R_k / coef): every mode whose
return is within a few ``coef`` of the best keeps a share. The bandwidth h (in normalized
units) sets what counts as the same outcome, so sharpening *within* a mode is not rewarded.
Modes are never labelled: the density is unsupervised, over the last episodes only.

``StateNovelty`` applies the same kernel novelty to every step's normalized observation (a
state-marginal entropy bonus, ``--state-bonus``); both share ``KernelNovelty``'s ring buffer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


class KernelNovelty:
    """``bonus(points)`` -> ``coef * (-log p_hat(point) - c)`` per point, then the points join
    a ring buffer of the newest ``buffer`` points (the density the next points are scored
    under).

    ``coef``: the bonus scale (reward units); ``bandwidth``: kernel width h; ``buffer``: the
    number of recent points the density is fitted to; ``ema``: rate of the centring mean c."""

    def __init__(self, coef: float, bandwidth: float = 0.5, buffer: int = 256,
                 ema: float = 0.05) -> None:
        self.coef, self.h, self.size, self.ema = coef, bandwidth, buffer, ema
        self._data: np.ndarray | None = None  # [size, D] ring; full: oldest at _count % size
        self._count = 0
        self.center = math.nan

    @property
    def buffer(self) -> np.ndarray:
        """The stored points, oldest first ``[M, D]``."""
        if self._data is None:
            return np.zeros((0, 0))
        if self._count < self.size:
            return self._data[:self._count]
        i = self._count % self.size
        return np.concatenate([self._data[i:], self._data[:i]])

    def _push(self, d: np.ndarray) -> None:
        d = d[-self.size:]
        if self._data is None:
            self._data = np.zeros((self.size, d.shape[1]))
        idx = (self._count + np.arange(len(d))) % self.size
        self._data[idx] = d
        self._count += len(d)

    def neg_log_density(self, d: np.ndarray) -> np.ndarray:
        """-log p_hat of points ``[E, D]`` under the buffer (the kernel's normalizing constant
        omitted: it cancels in the centred bonus)."""
        b = self.buffer  # [M, D]
        sq = ((d[:, None, :] - b[None, :, :]) ** 2).sum(-1) / (2 * self.h**2)  # [E, M]
        m = sq.min(1, keepdims=True)
        logsum = -m[:, 0] + np.log(np.exp(-(sq - m)).sum(1))
        return -(logsum - math.log(len(b)))

    def bonus(self, points: np.ndarray) -> np.ndarray:
        """Bonuses of new points (``[E, D]`` -> ``[E]``); 0 until the buffer holds a first
        batch of points."""
        d = np.asarray(points, dtype=np.float64).reshape(len(points), -1)
        out = np.zeros(len(d))
        if self._count and len(d):
            nld = self.neg_log_density(d)
            if math.isnan(self.center):
                self.center = float(nld.mean())
            out = self.coef * (nld - self.center)
            self.center += self.ema * (float(nld.mean()) - self.center)
        if len(d):
            self._push(d)
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"buffer": self.buffer.tolist(), "center": self.center}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._data, self._count = None, 0
        if state["buffer"]:
            self._push(np.asarray(state["buffer"], dtype=np.float64))
        self.center = float(state["center"])


class StateNovelty(KernelNovelty):
    """State-marginal entropy bonus: every step's normalized observation ``x`` earns
    ``coef * (-log p_hat(x) - c)`` under the density of the last ``buffer`` observations, so
    PPO follows max E[sum_t r_t] + coef * H(d_pi(s)) (approximately): rarely visited states
    pay, whichever action or episode led there. Unlike the outcome bonus it acts from the
    first update and within an episode, before any mode has been reached (nfpo.runner)."""


class OutcomeBonus(KernelNovelty):
    """The kernel novelty of episode descriptors, added at each episode's end."""

    def add_to_rewards(self, ended: dict[int, np.ndarray], scored: np.ndarray,
                       reward: np.ndarray) -> np.ndarray:
        """One vector-env step: ``ended`` maps each env whose episode ended to its descriptor
        (``EpisodeDescriptors.pop``); those ``scored`` (``[N]`` bool: ended and kept) get their
        bonus added to a copy of ``reward`` ``[N]``."""
        ids = np.flatnonzero(scored)
        if not len(ids):
            return reward
        reward = reward.copy()
        reward[ids] += self.bonus(np.stack([ended[int(i)] for i in ids]))
        return reward


class EpisodeDescriptors:
    """Per-env running means of the normalized observation and the executed action; ``pop(i)``
    returns env i's descriptor ``[obs_dim + act_dim]`` and restarts its sums."""

    def __init__(self, num_envs: int, obs_dim: int, act_dim: int) -> None:
        self.sums = np.zeros((num_envs, obs_dim + act_dim))
        self.steps = np.zeros(num_envs)

    def add(self, x: np.ndarray, action: np.ndarray) -> None:
        """``x``: normalized observations ``[N, O]`` the policy acted on; ``action`` ``[N, A]``
        in [-1, 1]."""
        self.sums += np.concatenate([x, action], axis=1)
        self.steps += 1

    def means(self) -> np.ndarray:
        """The running descriptors of every env's current episode ``[N, O + A]``."""
        return self.sums / np.maximum(self.steps, 1.0)[:, None]

    def pop_ended(self, x: np.ndarray, action: np.ndarray, done: np.ndarray
                  ) -> dict[int, np.ndarray]:
        """``add`` one step, then ``pop`` every env whose episode is ``done``: env -> its
        descriptor."""
        self.add(x, np.clip(action, -1.0, 1.0))
        return {int(i): self.pop(int(i)) for i in np.flatnonzero(done)}

    def pop(self, i: int) -> np.ndarray:
        d = self.sums[i] / max(self.steps[i], 1.0)
        self.sums[i], self.steps[i] = 0.0, 0.0
        return d

    def state_dict(self) -> dict[str, Any]:
        return {"sums": self.sums.tolist(), "steps": self.steps.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = np.asarray(state["sums"], dtype=np.float64)
        self.steps = np.asarray(state["steps"], dtype=np.float64)
