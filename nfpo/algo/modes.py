"""Mode-balanced advantages: no preference *between* unsupervised outcome clusters.

PPO's advantage at a state that several kinds of trajectory share (the start of MultiGoal, the
one state of a bandit) compares them: the kind with the higher return gets a positive
advantage, the others negative ones, and the policy moves its mass onto one mode. This module
removes that comparison and keeps the one *within* each kind, in the manner of niching
(fitness sharing) in evolutionary search and of DDiffPG's per-mode updates:

1. Every episode that touches the rollout gets a descriptor d (its mean normalized observation
   and action, ``nfpo.algo.outcome.EpisodeDescriptors``; an unfinished one its running mean).
2. k-means (k-means++ start, a fixed number of Lloyd steps, seeded by the update index) groups
   the descriptors into ``k`` clusters. No labels, no task knowledge.
3. Each step belongs to a group g = (cluster c of its episode, its step index t in that
   episode). The group's mean advantage, shrunk toward 0 for small groups,

       o_g = sum_{i in g} A_i / (n_g + n0),

   is the advantage of "being in cluster c" at time t: the between-cluster signal. It is
   removed with strength beta in [0, 1]:  A_i <- A_i - beta * o_g(i).

With beta = 1 the policy gradient carries (nearly) no signal that moves probability between
clusters, so each cluster keeps its share while its members improve toward their own best
(the shares the early, broad policy reached). beta < 1 lets better clusters win slowly.
Returns (value targets) are unchanged. Grouping by t matters: the between-cluster advantage
sits at the shared early states; later states are cluster-specific and already have a
baseline there. k may exceed the number of modes (a mode split into several clusters is
still kept; its parts still converge), so it is an upper bound, not a label count.

``lump_balance`` is the same correction with the agent's own latent in place of the clusters:
with held mixture components (``nfpo.policies.noise.HeldComponent``) each step carries the
lump k its episode follows, and lumps are neighbours when their base means are close. The
offset of a step of lump k is the kernel-weighted mean advantage of k's neighbourhood over the
rollout,

    o_k = sum_j c_kj S_j / (sum_j c_kj n_j + n0),   c_kj = exp(-|mu_k - mu_j|^2 / (2 h^2)),

(S_j, n_j: sum and count of the advantages of lump j's steps), and A_i <- A_i - beta o_k(i).
A lump is then compared with its neighbours only (niching, fitness sharing): lumps that point
the same way still compete, so each neighbourhood climbs to its nearest good behaviour, while
the comparison between far-apart lumps, which carries the better side's actions to every lump
through the shared flow, is removed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Index of the nearest center ``[K, D]`` for each point ``[E, D]`` -> ``[E]``."""
    return ((points[:, None, :] - centers[None]) ** 2).sum(-1).argmin(1)


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iters: int = 20
           ) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with a k-means++ start. ``points`` ``[E, D]`` -> (centroids ``[k', D]``,
    labels ``[E]``), k' = min(k, number of distinct points)."""
    x = np.asarray(points, dtype=np.float64)
    k = min(k, len(np.unique(x, axis=0)))
    centers = [x[rng.integers(len(x))]]
    for _ in range(1, k):
        d2 = ((x[:, None, :] - np.asarray(centers)[None]) ** 2).sum(-1).min(1)
        centers.append(x[rng.choice(len(x), p=d2 / d2.sum())])
    c = np.asarray(centers)
    labels = np.zeros(len(x), dtype=np.int64)
    for _ in range(iters):
        labels = nearest(x, c)
        new = np.stack([x[labels == j].mean(0) if (labels == j).any() else c[j]
                        for j in range(len(c))])
        if np.allclose(new, c):
            break
        c = new
    return c, labels


def balance(adv: np.ndarray, cluster: np.ndarray, t_in_ep: np.ndarray, strength: float,
            shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove ``strength`` times the shrunk mean advantage of each (cluster, step-in-episode)
    group. All arrays are flat ``[B]``. Returns (balanced advantages, the offsets o_g(i))."""
    t = np.asarray(t_in_ep, dtype=np.int64)
    group = np.asarray(cluster, dtype=np.int64) * (int(t.max()) + 1) + t
    _, gid = np.unique(group, return_inverse=True)
    sums = np.bincount(gid, weights=adv)
    counts = np.bincount(gid)
    offset = (sums / (counts + shrink))[gid]
    return adv - strength * offset, offset


def correct_in_place(advantages: torch.Tensor,
                     correct: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> float:
    """Apply ``correct`` (flat float64 advantages ``[B]`` -> (corrected, offsets)) to
    ``advantages`` ``[T, N]`` in place. Returns the RMS of the offsets over the RMS of the
    advantages: the share of the advantage signal the correction removed."""
    adv = advantages.detach().cpu().numpy().astype(np.float64).ravel()
    new, offset = correct(adv)
    advantages.copy_(torch.as_tensor(new.reshape(advantages.shape), dtype=advantages.dtype))
    return float(np.sqrt((offset ** 2).mean() / max((adv ** 2).mean(), 1e-12)))


def lump_balance(adv: np.ndarray, component: np.ndarray, means: np.ndarray, bandwidth: float,
                 strength: float, shrink: float) -> tuple[np.ndarray, np.ndarray]:
    """Remove ``strength`` times each lump neighbourhood's shrunk mean advantage (module
    docstring). ``adv`` ``[B]``, ``component`` ``[B]`` (long), ``means`` ``[M, D]`` the base
    means. Returns (balanced advantages, the offsets o_k(i))."""
    m = len(means)
    c = np.exp(-((means[:, None] - means[None]) ** 2).sum(-1) / (2 * bandwidth ** 2))  # [M, M]
    sums = np.bincount(component, weights=adv, minlength=m)
    counts = np.bincount(component, minlength=m).astype(np.float64)
    offset = (c @ sums) / (c @ counts + shrink)
    return adv - strength * offset[component], offset[component]


class ModeBalance:
    """Per rollout: ``start(ep_len)``, then ``step(done, finished)`` for every env step,
    then ``apply(advantages, running)`` once the storage holds GAE advantages."""

    def __init__(self, num_envs: int, clusters: int, strength: float, shrink: float = 4.0
                 ) -> None:
        self.n, self.k, self.strength, self.shrink = num_envs, clusters, strength, shrink

    def start(self, ep_len: np.ndarray) -> None:
        """``ep_len`` ``[N]``: steps already taken by each env's running episode."""
        self._slot = np.arange(self.n)  # episode id of each env's running episode
        self._next = self.n
        self._t = np.asarray(ep_len, dtype=np.int64).copy()
        self._slots: list[np.ndarray] = []
        self._times: list[np.ndarray] = []
        self._descr: dict[int, np.ndarray] = {}

    def step(self, done: np.ndarray, finished: dict[int, np.ndarray]) -> None:
        """One vector-env step: ``done`` ``[N]``; ``finished``: env index -> descriptor of each
        episode that ended with this step."""
        self._slots.append(self._slot.copy())
        self._times.append(self._t.copy())
        self._t += 1
        for i, d in finished.items():
            self._descr[int(self._slot[i])] = d
        for i in np.flatnonzero(done):
            self._slot[i], self._next = self._next, self._next + 1
            self._t[i] = 0

    def apply(self, advantages: torch.Tensor, running: np.ndarray, seed: int
              ) -> dict[str, float]:
        """Balance ``advantages`` ``[T, N]`` in place. ``running`` ``[N, D]``: the descriptors
        of the episodes still running (their mean so far); ``seed``: k-means' seed (the update
        index, so a resumed run clusters the same way). Returns metrics."""
        finished = sorted(self._descr)
        for i in range(self.n):
            self._descr.setdefault(int(self._slot[i]), running[i])
        ids = np.asarray(sorted(self._descr))
        points = np.stack([self._descr[int(j)] for j in ids])
        rng = np.random.default_rng(seed)
        fit = points[np.isin(ids, finished)] if len(finished) >= 2 * self.k else points
        centers, _ = kmeans(fit, self.k, rng)
        labels = nearest(points, centers)
        slots = np.stack(self._slots)  # [T, N] episode ids
        cluster = labels[np.searchsorted(ids, slots.ravel())]
        times = np.stack(self._times).ravel()
        between = correct_in_place(advantages, lambda adv: balance(
            adv, cluster, times, self.strength, self.shrink))
        share = np.bincount(labels, minlength=len(centers)) / len(labels)
        return {"modes/clusters": float(len(centers)),
                "modes/effective": float(np.exp(-(share[share > 0] * np.log(share[share > 0]))
                                                .sum())),
                "modes/between_fraction": between}
