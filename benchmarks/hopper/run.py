"""Hopper-v5, 1M steps: flow vs Gaussian (nfpo defaults), plus the raw simulator rate.

Resumable: a finished run (summary.json + eval.json) is skipped, an interrupted one is resumed
from its newest checkpoint. Runs go two at a time (one per core, 1 torch thread each).

    python benchmarks/hopper/run.py --seeds 1 2 3 --jobs 2
    python benchmarks/hopper/run.py --summarize      # only rewrite results.json / RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nfpo.envs import random_action_rate

HERE = Path(__file__).resolve().parent
RUNS = HERE / "runs"
ENV, STEPS, NUM_ENVS = "Hopper-v5", 1_000_000, 4


def run_one(policy: str, seed: int, steps: int) -> dict:
    run_dir = RUNS / f"{policy}_s{seed}"
    log = RUNS / f"{policy}_s{seed}.log"
    if (run_dir / "summary.json").exists() and (run_dir / "eval.json").exists():
        return {"run": run_dir.name, "status": "done before"}
    cmd = [sys.executable, "-m", "nfpo", "train"]
    if (run_dir / "checkpoints").exists():
        cmd += ["--resume", str(run_dir), "--total-steps", str(steps)]
    else:
        cmd += ["--env", ENV, "--policy", policy, "--seed", str(seed), "--total-steps",
                str(steps), "--num-envs", str(NUM_ENVS), "--run-dir", str(run_dir)]
    with open(log, "a") as f:
        rc = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
    return {"run": run_dir.name, "status": "ok" if rc == 0 else f"exit {rc}"}


def summarize(sim_rate: float | None) -> None:
    results_path = HERE / "results.json"
    old = json.loads(results_path.read_text()) if results_path.exists() else {}
    rates = old.get("raw_sim_rates") or ([old["raw_sim_steps_per_second"]]
                                         if old.get("raw_sim_steps_per_second") else [])
    if sim_rate:
        rates.append(sim_rate)
    sim_rate = float(np.median(rates)) if rates else None
    rows = []
    for d in sorted(RUNS.glob("*_s*")):
        if not d.is_dir() or not (d / "summary.json").exists():
            continue
        cfg = json.loads((d / "config.json").read_text())["config"]
        s = json.loads((d / "summary.json").read_text())
        ev = json.loads((d / "eval.json").read_text()) if (d / "eval.json").exists() else {}
        rows.append({"run": d.name, "policy": cfg["policy"]["kind"], "seed": cfg["run"]["seed"],
                     "steps": s["global_step"], "train_return_last20": s["final_return_recent"],
                     "eval_return": ev.get("mean_return"), "eval_std": ev.get("std_return"),
                     "steps_per_second": s["steps_per_second"], "wall_min": s["wall_time"] / 60})
    out = {"env": ENV, "total_steps": STEPS, "num_envs": NUM_ENVS,
           "raw_sim_steps_per_second": sim_rate, "raw_sim_rates": rates,
           "machine": platform.platform(), "cpus": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d"), "runs": rows}
    results_path.write_text(json.dumps(out, indent=2))
    lines = ["| run | policy | seed | steps | train return (last 20 ep.) "
             "| eval return (10 det. ep.) | steps/s | wall (min) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ev = (f"{r['eval_return']:.0f} ± {r['eval_std']:.0f}"
              if r["eval_return"] is not None else "-")
        lines.append(f"| {r['run']} | {r['policy']} | {r['seed']} | {r['steps']} | "
                     f"{r['train_return_last20']:.0f} | {ev} | {r['steps_per_second']:.0f} | "
                     f"{r['wall_min']:.1f} |")
    agg = []
    for pol in ("flow", "gaussian"):
        rs = [r for r in rows if r["policy"] == pol]
        if rs:
            tr = np.array([r["train_return_last20"] for r in rs])
            sps = np.mean([r["steps_per_second"] for r in rs])
            agg.append(f"| {pol} | {len(rs)} | {tr.mean():.0f} ± {tr.std():.0f} | {sps:.0f} | "
                       f"{sps / sim_rate:.2f} |" if sim_rate else f"| {pol} | {len(rs)} | "
                       f"{tr.mean():.0f} ± {tr.std():.0f} | {sps:.0f} | - |")
    from nfpo.report import make_report

    done = [d for d in sorted(RUNS.glob("*_s*")) if (d / "summary.json").exists()]
    if done:
        make_report(done, HERE / "report")
    (HERE / "table.md").write_text("\n".join(lines) + "\n\n| policy | seeds | train return "
                                   "(mean ± std over seeds) | steps/s | / raw sim rate |\n"
                                   "|---|---|---|---|---|\n" + "\n".join(agg) + "\n")
    print((HERE / "table.md").read_text())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1])
    ap.add_argument("--policies", nargs="+", default=["flow", "gaussian"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--summarize", action="store_true")
    args = ap.parse_args()
    if args.summarize:
        summarize(None)
        return
    RUNS.mkdir(parents=True, exist_ok=True)
    rate = random_action_rate(ENV, NUM_ENVS, 5000)
    print(f"raw simulator rate ({NUM_ENVS} envs, random actions): {rate:.0f} steps/s", flush=True)
    jobs = [(p, s) for s in args.seeds for p in args.policies]
    with ThreadPoolExecutor(args.jobs) as pool:
        for res in pool.map(lambda j: run_one(j[0], j[1], args.steps), jobs):
            print(res, flush=True)
    summarize(rate)


if __name__ == "__main__":
    main()
