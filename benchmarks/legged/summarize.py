"""Go1 velocity tracking: learning curves and a final table from the grid in
benchmarks/legged/go1 (``nfpo bench benchmarks/legged/grid.toml --out benchmarks/legged/go1``).

    python benchmarks/legged/summarize.py      # writes curves.png and table.md here
    python benchmarks/legged/summarize.py --grid benchmarks/legged/rough --name rough
                                               # any grid: curves_NAME.png, table_NAME.md

MuJoCo Playground's Go1 reward is clipped at 0 per step, so the return says little early in
training; the tracking terms, the velocity errors and the episode length are what move.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from nfpo.logger import read_metrics

HERE = Path(__file__).resolve().parent
GRID = HERE / "go1"
METRICS = [("policy/entropy", "policy entropy (nats)"),
           ("episode/length", "episode length (steps)"),
           ("episode/reward_tracking_lin_vel", "lin. velocity tracking reward (episode sum)"),
           ("episode/lin_vel_error", "lin. velocity error (m/s)"),
           ("episode/ang_vel_error", "ang. velocity error (rad/s)")]


def tail_mean(values: list[float], frac: float = 0.1) -> float:
    """Mean of the finite values in the last ``frac`` of the run."""
    v = [x for x in values[-max(1, int(len(values) * frac)):] if math.isfinite(x)]
    return float(np.mean(v)) if v else math.nan


def main(argv: list[str] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--grid", type=Path, default=GRID)
    ap.add_argument("--name", default="", help="suffix of the output files (curves_NAME.png)")
    a = ap.parse_args(argv)
    grid, suffix = a.grid, f"_{a.name}" if a.name else ""
    index = json.loads((grid / "index.json").read_text())["jobs"]
    runs: dict[str, list[dict]] = {}
    for job_id in sorted(index):
        run_dir = grid / "runs" / job_id
        if not (run_dir / "metrics.csv").exists():
            continue
        arm = job_id.split("__")[1]
        m = read_metrics(run_dir)
        ev = run_dir / "eval.json"
        runs.setdefault(arm, []).append({"id": job_id, "m": m, "status": index[job_id]["status"],
                                         "eval": json.loads(ev.read_text()) if ev.exists()
                                         else None})
    fig, axes = plt.subplots(1, len(METRICS), figsize=(5 * len(METRICS), 3.6))
    for ax, (key, label) in zip(axes, METRICS, strict=True):
        for arm, rs in runs.items():
            for i, r in enumerate(rs):
                x = np.asarray(r["m"]["global_step"]) / 1e6
                y = np.asarray(r["m"].get(key, [math.nan] * len(x)), dtype=float)
                k = 15  # moving average over updates
                ys = np.convolve(np.nan_to_num(y, nan=np.nanmean(y)), np.ones(k) / k, "valid")
                ax.plot(x[k - 1:], ys, color=f"C{list(runs).index(arm)}", alpha=0.8,
                        label=arm if i == 0 else None)
        ax.set_xlabel("env steps (M)")
        ax.set_title(label, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(HERE / f"curves{suffix}.png", dpi=110)

    lines = ["| arm | seed | status | steps | train steps/s | " + " | ".join(
        lab.split(" (")[0] for _, lab in METRICS) + " | eval length | eval lin. error | "
        "eval ang. error |", "|---" * (8 + len(METRICS)) + "|"]
    for arm, rs in runs.items():
        for r in rs:
            m, e = r["m"], r["eval"] or {}
            cells = [f"{tail_mean(m.get(k, [])):.3g}" for k, _ in METRICS]
            sps = np.median(m["time/steps_per_second"][1:])
            lines.append(
                f"| {arm} | {r['id'].rsplit('__s', 1)[1]} | {r['status']} | "
                f"{int(m['global_step'][-1]):,} | {sps:.0f} | " + " | ".join(cells) + " | "
                + " | ".join(f"{e[k]:.3g}" if k in e else "-" for k in
                             ("mean_length", "info/lin_vel_error", "info/ang_vel_error")) + " |")
    (HERE / f"table{suffix}.md").write_text(
        "Training columns: mean over the last 10% of updates. Eval: 5 deterministic "
        "episodes of the final policy.\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
