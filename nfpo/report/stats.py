"""Statistics for multi-seed comparisons, after Agarwal et al. (2021), "Deep RL at the edge of
the statistical precipice" (the rliable methodology), in plain numpy.

- IQM: the mean of the middle 50% of all (run, task) scores: robust to outlier seeds, less
  noisy than the median.
- Stratified bootstrap: resample seeds *within* each task, recompute the statistic; the 2.5 and
  97.5 percentiles give a 95% CI.
- Probability of improvement P(X > Y): for each task the Mann-Whitney statistic
  mean over seed pairs of [x > y] + 0.5 [x = y], averaged over tasks.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Scores = list[np.ndarray]  # one array of per-seed scores per task


def iqm(x: np.ndarray) -> float:
    """Interquartile mean: mean of the values between the 25th and 75th percentile ranks
    (``scipy.stats.trim_mean(x, 0.25)``)."""
    x = np.sort(np.asarray(x, dtype=float).ravel())
    cut = int(0.25 * len(x))
    return float(np.mean(x[cut: len(x) - cut])) if len(x) else float("nan")


def bootstrap_ci(stat: Callable[[Scores], float], scores: Scores, reps: int = 2000,
                 seed: int = 0) -> tuple[float, float, float]:
    """(point estimate, lower, upper) of ``stat`` with a 95% stratified bootstrap CI."""
    rng = np.random.default_rng(seed)
    point = stat(scores)
    draws = [stat([s[rng.integers(0, len(s), len(s))] for s in scores]) for _ in range(reps)]
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return point, float(lo), float(hi)


def mean_ci(x: np.ndarray, reps: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean with a 95% bootstrap CI over the entries of ``x``."""
    return bootstrap_ci(lambda s: float(np.mean(s[0])), [np.asarray(x, dtype=float)], reps, seed)


def aggregate_iqm(scores: Scores) -> float:
    return iqm(np.concatenate(scores))


def prob_improvement(x: Scores, y: Scores) -> float:
    """P(X > Y) averaged over tasks; ``x[t]``, ``y[t]``: per-seed scores of two methods on
    task t."""
    per_task = []
    for a, b in zip(x, y, strict=True):
        a, b = np.asarray(a, float)[:, None], np.asarray(b, float)[None, :]
        per_task.append(np.mean((a > b) + 0.5 * (a == b)))
    return float(np.mean(per_task))


def prob_improvement_ci(x: Scores, y: Scores, reps: int = 2000, seed: int = 0
                        ) -> tuple[float, float, float]:
    """P(X > Y) with a 95% stratified bootstrap CI (both methods resampled per task)."""
    rng = np.random.default_rng(seed)
    point = prob_improvement(x, y)
    draws = []
    for _ in range(reps):
        xs = [a[rng.integers(0, len(a), len(a))] for a in map(np.asarray, x)]
        ys = [b[rng.integers(0, len(b), len(b))] for b in map(np.asarray, y)]
        draws.append(prob_improvement(xs, ys))
    lo, hi = np.percentile(draws, [2.5, 97.5])
    return point, float(lo), float(hi)


def curve_band(xs: list[np.ndarray], ys: list[np.ndarray], points: int = 100, reps: int = 1000,
               seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeds' curves interpolated onto a common x grid (up to the shortest run); returns
    (grid, mean, lower, upper) with a 95% bootstrap CI of the mean across seeds."""
    end = min(float(x[-1]) for x in xs)
    start = max(float(x[0]) for x in xs)
    grid = np.linspace(start, end, points) if end > start else np.array([end])
    mat = np.stack([np.interp(grid, x, y) for x, y in zip(xs, ys, strict=True)])  # [S, P]
    mean = mat.mean(0)
    if len(mat) < 2:
        return grid, mean, mean, mean
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(mat), (reps, len(mat)))
    boot = mat[idx].mean(1)  # [reps, P]
    lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
    return grid, mean, lo, hi
