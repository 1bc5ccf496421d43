"""Per-arm stability table of a stability grid (stress or standard): divergences, KL blow-ups,
log-ratio tails, early stops and final returns, from each run's metrics.csv and eval.json.

    python benchmarks/stability/summarize.py benchmarks/stability/standard \
        > benchmarks/stability/standard.md

A run counts as
- *diverged* if the grid recorded it so (NaN/Inf or a guard trip: the run stopped);
- *blown up* if one update's k3 KL exceeded 1 (the policy jumped far from the one that
  collected the data; see docs/stability.md, mechanism 1);
- *collapsed* as ``nfpo report`` counts it (``nfpo.report.grid.collapsed``): finished, and
  over the last 10% of its updates its training return (mean of the last 20 episodes)
  averages below the midpoint between its first logged value and its best.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections import defaultdict
from typing import Any

from nfpo.report.grid import load_grid  # per-run final/eval/tails/worst log-ratio/max KL

BLOW_UP_KL = 1.0


def _finite(xs: list[float]) -> list[float]:
    return [x for x in xs if math.isfinite(x)]


def run_stats(job: dict[str, Any]) -> dict[str, Any] | None:
    """This table's view of one job from ``load_grid``; None if the run has logged nothing."""
    m = job["metrics"]
    if not m.get("global_step"):
        return None
    stops = _finite(m.get("train/early_stop", []))
    ev = job["eval"]
    return {
        "steps": job["steps"], "final": job["final"], "eval": ev if math.isfinite(ev) else None,
        "max_kl": job["max_kl"], "tails": job["tail_events"],
        "min_log_ratio": job["worst_log_ratio"],
        "early_stop": sum(stops) / len(stops) if stops else 0.0,
        "blown_up": job["max_kl"] > BLOW_UP_KL,
        "collapsed": job["collapsed"],
    }


def _ms(xs: list[float]) -> str:
    xs = [x for x in xs if x is not None and math.isfinite(x)]
    if not xs:
        return "-"
    return f"{statistics.mean(xs):.0f} ± {statistics.pstdev(xs):.0f}" if len(xs) > 1 \
        else f"{xs[0]:.0f}"


def _num(x: float, fmt: str) -> str:
    return format(x, fmt) if math.isfinite(x) else "-"


def main(grid: str) -> None:
    _, jobs = load_grid(grid)
    cells: dict[tuple[str, str], list[tuple[int, dict, str]]] = defaultdict(list)
    for job in jobs:
        st = run_stats(job)
        if st is not None:
            cells[(job["task"], job["arm"])].append((job["seed"], st, job["status"]))
    print(f"Grid `{grid}` ({sum(len(v) for v in cells.values())} runs with data; "
          "'done' means the run reached its budget).\n")
    print("| task | arm | runs done / with data | final train return | eval return | "
          "diverged | KL > 1 | collapsed | updates with min log-ratio < -20 | worst min "
          "log-ratio | max KL | early-stop fraction |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (task, arm), runs in sorted(cells.items()):
        runs.sort(key=lambda r: r[0])
        done = [(s, st) for s, st, status in runs if status == "done"]
        sts = [st for _, st in done]
        diverged = sum(status == "diverged" for _, _, status in runs)
        stop = statistics.mean(st["early_stop"] for st in sts) if sts else math.nan
        print(f"| {task} | {arm} | {len(done)} / {len(runs)} | "
              f"{_ms([st['final'] for st in sts])} | {_ms([st['eval'] for st in sts])} | "
              f"{diverged} | {sum(st['blown_up'] for st in sts)} | "
              f"{sum(st['collapsed'] for st in sts)} | "
              f"{', '.join(str(st['tails']) for st in sts) or '-'} | "
              f"{_num(min((st['min_log_ratio'] for st in sts), default=math.nan), '.3g')} | "
              f"{_num(max((st['max_kl'] for st in sts), default=math.nan), '.3g')} | "
              f"{_num(stop, '.2f')} |")
    print("\nPer run (seed: final train return / eval return / max KL):\n")
    for (task, arm), runs in sorted(cells.items()):
        parts = []
        for s, st, status in runs:
            ev = "-" if st["eval"] is None else f"{st['eval']:.0f}"
            note = "" if status == "done" else f" ({status} at {st['steps']} steps)"
            parts.append(f"s{s}: {st['final']:.0f} / {ev} / {st['max_kl']:.3g}{note}")
        print(f"- {task} {arm}: {'; '.join(parts)}")

if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "benchmarks/stability/standard")
