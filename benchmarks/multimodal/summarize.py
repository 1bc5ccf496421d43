"""Summarize the multimodal grid: stochastic evaluation of every finished run (mode coverage,
success, return), Monte-Carlo entropy at the start state, and plot-policy figures.

    nfpo bench benchmarks/multimodal/grid.toml --out benchmarks/multimodal/grid
    nfpo bench benchmarks/multimodal/fork.toml --out benchmarks/multimodal/fork
    python benchmarks/multimodal/summarize.py [--grids GRID_DIR ...] [--episodes 500]
    python benchmarks/multimodal/summarize.py --grids benchmarks/multimodal/maxent --name maxent
    python benchmarks/multimodal/summarize.py --grids benchmarks/multimodal/awr4 --name awr4 \
        --figure-arms flow-awr,gaussian-awr

Writes results[_NAME].json and RESULTS[_NAME].md beside this script, and figures into
figures/ (prefixed NAME_).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nfpo.agent import load_run
from nfpo.bench.grid import read_index
from nfpo.envs import make_env
from nfpo.evaluate import evaluate
from nfpo.report.policy_plot import plot_policies

HERE = Path(__file__).parent
FULL_SHARE = 0.15  # the target: every mode gets >= 15% of stochastic rollouts
ON_PEAKS = 0.8  # and "multimodal" also asks that >= 80% of rollouts succeed (end in a mode):
# a diffuse policy sends >= 15% near each peak of the bandit without representing either


@torch.no_grad()
def start_entropy(run_dir: Path, samples: int = 2000) -> float:
    """Monte-Carlo entropy -E[log pi(u|s0)] at a reset observation (pre-squash action u)."""
    cfg, agent, _ = load_run(run_dir)
    env = make_env(cfg.env.id, cfg.env.kwargs())
    obs, _ = env.reset(seed=0)
    env.close()
    x = agent.norm(torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1).expand(samples, -1))
    _, logp = agent.policy.sample(x)
    return float(-logp.mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--figure-arms", default="flow,gaussian",
                    help="the arms drawn side by side in the plot-policy figure")
    ap.add_argument("--figure-seed", type=int, default=1,
                    help="the seed whose runs the figure draws")
    ap.add_argument("--grids", nargs="+", default=[str(HERE / "grid"), str(HERE / "fork")])
    ap.add_argument("--episodes", type=int, default=500)
    ap.add_argument("--name", default="", help="suffix of the output files")
    args = ap.parse_args()
    sfx = f"_{args.name}" if args.name else ""
    rows, run_of = [], {}
    done = [(Path(g), job_id, rec) for g in args.grids if (Path(g) / "index.json").exists()
            for job_id, rec in sorted(read_index(Path(g)).items()) if rec["status"] == "done"]
    missing = [str(grid / rec["run_dir"]) for grid, _, rec in done
               if not (grid / rec["run_dir"] / "checkpoints").is_dir()]
    if missing:  # checked before any evaluation (each takes ~20 s)
        sys.exit(f"no checkpoints for {len(missing)} finished run(s), e.g. {missing[0]}: the "
                 "evaluation needs them and the bench-runs branch does not keep them; run the "
                 "grid again (nfpo bench <grid .toml> --out <grid dir>) or leave that grid out")
    for grid, job_id, rec in done:
        run = grid / rec["run_dir"]
        run_of[(rec["task"], rec["arm"], rec["seed"])] = run
        ev = evaluate(run, args.episodes, deterministic=False, seed=50_000)
        rows.append({"task": rec["task"], "policy": rec["arm"], "seed": rec["seed"],
                     "return": ev["mean_return"], "success": ev.get("info/success"),
                     "mode_fractions": ev["mode_fractions"], "coverage": ev["mode_coverage"],
                     "all_modes_15pct": bool(min(ev["mode_fractions"]) >= FULL_SHARE),
                     "multimodal": bool(min(ev["mode_fractions"]) >= FULL_SHARE
                                        and (ev.get("info/success") or 0) >= ON_PEAKS),
                     "entropy_start": start_entropy(run)})
        print(job_id, {k: rows[-1][k] for k in ("return", "mode_fractions", "entropy_start")})
    (HERE / f"results{sfx}.json").write_text(json.dumps(rows, indent=1))

    fig_dir = HERE / "figures"
    figures = []
    for task in sorted({r["task"] for r in rows}):
        runs = [run_of.get((task, p, args.figure_seed)) for p in args.figure_arms.split(",")]
        if all(r is not None for r in runs):
            out = fig_dir / f"{args.name + '_' if args.name else ''}{task.split('/')[-1]}.png"
            plot_policies(runs, out)
            figures.append((task, out.relative_to(HERE)))

    lines = ["# Multimodal tasks: flow vs Gaussian", "",
             f"Machine: {platform.processor() or platform.machine()}, 2 CPU cores, "
             f"{time.strftime('%Y-%m-%d')}. Grids: " + ", ".join(
                 f"`nfpo bench benchmarks/multimodal/{Path(g).name}.toml --out "
                 f"benchmarks/multimodal/{Path(g).name}`" for g in args.grids)
             + f", then `python benchmarks/multimodal/summarize.py "
             f"{' '.join(sys.argv[1:])}`. Finished runs only.", "",
             f"Each finished run is evaluated with {args.episodes} stochastic episodes. "
             "*Coverage*: fraction of modes that get >= 10% of the episodes; "
             f"*all modes*: seeds in which every mode gets >= {FULL_SHARE:.0%}; "
             f"*multimodal*: seeds in which, in addition, >= {ON_PEAKS:.0%} of the episodes "
             "succeed (a diffuse policy passes *all modes* on the bandit); "
             "*entropy*: Monte-Carlo entropy of pi(.|s0) at the start state (nats).", "",
             "| task | policy | seeds | return | success | coverage | all modes | multimodal | "
             "entropy | per-seed mode fractions |", "|---|---|---|---|---|---|---|---|---|---|"]
    arms = sorted({r["policy"] for r in rows}, key=lambda a: (a != "flow", a != "gaussian", a))
    for task in sorted({r["task"] for r in rows}):
        for pol in arms:
            rs = [r for r in rows if r["task"] == task and r["policy"] == pol]
            if not rs:
                continue
            ret = np.array([r["return"] for r in rs])
            fr = "; ".join("/".join(f"{f:.2f}" for f in r["mode_fractions"]) for r in rs)
            lines.append(
                f"| {task} | {pol} | {len(rs)} | {ret.mean():.2f} ± {ret.std():.2f} | "
                f"{np.mean([r['success'] for r in rs]):.2f} | "
                f"{np.mean([r['coverage'] for r in rs]):.2f} | "
                f"{sum(r['all_modes_15pct'] for r in rs)}/{len(rs)} | "
                f"{sum(r.get('multimodal', False) for r in rs)}/{len(rs)} | "
                f"{np.mean([r['entropy_start'] for r in rs]):.2f} | {fr} |")
    for task, fig in figures:
        lines += ["", f"### {task} (seed {args.figure_seed}; left to right: "
                  f"{', '.join(args.figure_arms.split(','))})", "", f"![{task}]({fig})"]
    (HERE / f"RESULTS{sfx}.md").write_text("\n".join(lines) + "\n")
    print(HERE / f"RESULTS{sfx}.md")


if __name__ == "__main__":
    main()
