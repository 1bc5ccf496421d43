"""Flow size vs training speed vs return on Hopper-v5 (CleanRL settings, NFPO default).

Speed: each configuration trains ``--updates`` PPO updates of 2048 steps in its own process,
one at a time (``run.train_rate``: median steps/s over updates 2..); rounds alternate the
configurations so machine noise hits all alike; ratios are to the Gaussian of the same round.
Return: the final training return (mean of the last 20 episodes at 300k steps) and the
deterministic eval return of the grid runs, seeds 1-2:

    nfpo bench benchmarks/throughput/tradeoff.toml --out benchmarks/throughput/tradeoff
    python benchmarks/throughput/tradeoff.py --updates 6 --rounds 2

The default size (4 layers, 64x64) and the Gaussian come from benchmarks/stability/standard
(arms ``nfpo-kl0.1`` and ``gaussian``: the same settings). Writes tradeoff.json, tradeoff.md
and tradeoff.png beside this script; a size whose runs are missing shows "-".
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import run  # the sibling script: train_rate

from nfpo.report.grid import load_grid

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# name: (training flags, grid dir, arm in that grid)
CONFIGS: dict[str, tuple[list[str], Path, str]] = {
    "gaussian": (["--policy", "gaussian"], ROOT / "stability/standard", "gaussian"),
    "flow L4 h64 (default)": (["--policy", "flow"], ROOT / "stability/standard", "nfpo-kl0.1"),
    "flow L4 h32": (["--policy", "flow", "--flow-hidden", "32", "32"], HERE / "tradeoff",
                    "flow-L4-h32"),
    "flow L2 h64": (["--policy", "flow", "--flow-layers", "2"], HERE / "tradeoff",
                    "flow-L2-h64"),
    "flow L2 h32": (["--policy", "flow", "--flow-layers", "2", "--flow-hidden", "32", "32"],
                    HERE / "tradeoff", "flow-L2-h32"),
}
SEEDS = (1, 2)


@functools.cache
def _jobs(grid: Path) -> list[dict]:
    """The grid's jobs, loaded once (two configurations read the standard grid)."""
    return load_grid(grid)[1] if (grid / "index.json").exists() else []


def returns(grid: Path, arm: str) -> dict[str, list[float]]:
    """Final training and eval returns of the finished Hopper runs of ``arm``, seeds 1-2."""
    out: dict[str, list[float]] = {"train": [], "eval": []}
    for j in _jobs(grid):
        if (j["task"], j["arm"], j["status"]) == ("Hopper-v5", arm, "done") and j["seed"] in SEEDS:
            out["train"].append(j["final"])
            if math.isfinite(j["eval"]):
                out["eval"].append(j["eval"])
    return out


def _ms(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{statistics.mean(xs):.0f} ± {statistics.pstdev(xs):.0f} (n={len(xs)})"


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in rows:
        if r["train"]:
            ax.errorbar(r["speed_ratio"], statistics.mean(r["train"]),
                        yerr=statistics.pstdev(r["train"]) if len(r["train"]) > 1 else 0,
                        fmt="o", capsize=3)
            ax.annotate(r["name"], (r["speed_ratio"], statistics.mean(r["train"])),
                        textcoords="offset points", xytext=(5, 5), fontsize=8)
    ax.axvline(0.8, ls="--", c="gray", lw=1)
    ax.set_xlabel("training steps/s relative to the Gaussian")
    ax.set_ylabel("Hopper-v5 train return at 300k (mean ± std)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    ratios: dict[str, list[float]] = {k: [] for k in CONFIGS}
    rates: dict[str, list[float]] = {k: [] for k in CONFIGS}
    for _ in range(args.rounds):
        for name, (flags, _, _) in CONFIGS.items():
            rates[name].append(run.train_rate(flags, args.updates))
            print(name, f"{rates[name][-1]:.0f} steps/s", flush=True)
        for name in CONFIGS:
            ratios[name].append(rates[name][-1] / rates["gaussian"][-1])
    rows = []
    for name, (_, grid, arm) in CONFIGS.items():
        rows.append({"name": name, "steps_per_second": statistics.median(rates[name]),
                     "speed_ratio": statistics.median(ratios[name]), **returns(grid, arm)})
    out = {"machine": platform.platform(), "cpus": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d"), "updates": args.updates, "rounds": args.rounds,
           "rates": rates, "rows": rows}
    (HERE / "tradeoff.json").write_text(json.dumps(out, indent=2))
    lines = [f"`python benchmarks/throughput/tradeoff.py --updates {args.updates} --rounds "
             f"{args.rounds}` on {out['machine']}, {out['cpus']} CPUs, {out['date']}.", "",
             "| policy | train steps/s | / Gaussian | train return at 300k | eval return |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {r['steps_per_second']:.0f} | {r['speed_ratio']:.2f} | "
                     f"{_ms(r['train'])} | {_ms(r['eval'])} |")
    (HERE / "tradeoff.md").write_text("\n".join(lines) + "\n")
    plot(rows, HERE / "tradeoff.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
