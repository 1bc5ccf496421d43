"""How fast each arm learns: training metrics at fractions of the run, mean over seeds.

    python benchmarks/multimodal/curves.py benchmarks/multimodal/fork_preset_ent \
        benchmarks/multimodal/gauss_ent01 --seeds 1,2,3,4,5 \
        --out benchmarks/multimodal/curves_fork.json

For every grid directory (its ``index.json`` and ``runs/`` from ``nfpo bench``; ``python
benchmarks/runs.py fetch DIR`` restores the runs) and arm, each finished job's
``metrics.csv`` is cut at the fractions 1/8, 2/8, ..., 1 of its updates; a column is the
mean of the metric over the 10 updates before the cut, and a row the mean of those over the
seeds. Printed as Markdown tables (one per metric), written as JSON. Only training-time
numbers: the final policy's evaluation is summarize.py's.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from nfpo.bench.grid import read_index
from nfpo.logger import read_metrics

FRACTIONS = [i / 8 for i in range(1, 9)]
METRICS = ["episode/return_recent", "policy/entropy", "policy/approx_kl",
           "policy/clip_fraction", "value/explained_variance"]


def at_fractions(values: list[float], window: int = 10) -> list[float]:
    """The mean of the finite ``values`` (one per update) over the ``window`` updates before
    each fraction of the run."""
    out = []
    for q in FRACTIONS:
        end = max(1, round(len(values) * q))
        vals = [v for v in values[max(0, end - window):end] if math.isfinite(v)]
        out.append(sum(vals) / len(vals) if vals else math.nan)
    return out


def arm_runs(grid: Path, seeds: set[int] | None) -> dict[str, list[tuple[int, Path]]]:
    """(seed, run dir) of a grid's finished jobs (``index.json`` status done) by arm."""
    arms: dict[str, list[tuple[int, Path]]] = {}
    for _, rec in sorted(read_index(grid).items()):
        if rec["status"] == "done" and (seeds is None or rec["seed"] in seeds):
            arms.setdefault(rec["arm"], []).append((rec["seed"], grid / rec["run_dir"]))
    return arms


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("grids", nargs="+", type=Path)
    ap.add_argument("--seeds", default="", help="comma-separated seeds (default: all)")
    ap.add_argument("--metrics", default=",".join(METRICS))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    seeds = {int(s) for s in args.seeds.split(",")} if args.seeds else None
    metrics = args.metrics.split(",")
    result = []
    for grid in args.grids:
        for arm, runs in arm_runs(grid, seeds).items():
            cols = [read_metrics(run) for _, run in runs]
            for m in metrics:
                if not any(m in c for c in cols):
                    known = sorted({k for c in cols for k in c})
                    raise SystemExit(f"invalid --metrics entry {m!r}: no run of {grid.name} "
                                     f"{arm} logs it; logged: {', '.join(known)}")
            entry = {"grid": grid.name, "arm": arm, "seeds": [str(seed) for seed, _ in runs]}
            for m in metrics:
                per_run = [at_fractions(c.get(m, [])) for c in cols]
                entry[m] = [sum(col) / len(col) for col in zip(*per_run, strict=True)]
            result.append(entry)
    if not result:
        raise SystemExit(f"no finished runs under {[str(g) for g in args.grids]}")
    head = "| grid | arm | seeds | " + " | ".join(f"{q:.3g}" for q in FRACTIONS) + " |"
    for m in metrics:
        print(f"\n{m} at a fraction of training\n\n{head}\n|" + "---|" * (3 + len(FRACTIONS)))
        for e in result:
            vals = " | ".join(f"{v:.3g}" for v in e[m])
            print(f"| {e['grid']} | {e['arm']} | {len(e['seeds'])} | {vals} |")
    if args.out:
        args.out.write_text(json.dumps({"fractions": FRACTIONS, "window": 10,
                                        "arms": result}, indent=1) + "\n")


if __name__ == "__main__":
    main()
