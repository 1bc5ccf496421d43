"""Training throughput on Hopper-v5: flow vs Gaussian, eager vs --compile, against the raw
simulator rate of the same vector env (random actions, no policy).

Each configuration trains ``--updates`` PPO updates (2048 steps each, nfpo defaults) in its own
process, one at a time, and we report the median steps/s over updates 2.. (the first update
includes torch.compile's compilation). Rounds alternate the configurations so that machine
noise hits all of them alike.

    python benchmarks/throughput/run.py --updates 8 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nfpo.envs import random_action_rate

HERE = Path(__file__).resolve().parent
CONFIGS = {"gaussian": ["--policy", "gaussian"], "flow": ["--policy", "flow"],
           "gaussian --compile": ["--policy", "gaussian", "--compile"],
           "flow --compile": ["--policy", "flow", "--compile"]}


def train_rate(flags: list[str], updates: int, batch: int = 2048) -> float:
    """Median training steps/s over updates 2.. of ``nfpo train FLAGS`` (``batch`` steps per
    update; Hopper-v5 unless FLAGS name an --env), in its own process."""
    with tempfile.TemporaryDirectory() as d:
        cmd = [sys.executable, "-m", "nfpo", "train", "--env", "Hopper-v5", "--total-steps",
               str(batch * updates), "--run-dir", d, "--eval-episodes", "0", "--no-report",
               "--no-tensorboard", "--no-progress", *flags]
        subprocess.run(cmd, check=True, capture_output=True)
        from nfpo.logger import read_metrics

        sps = read_metrics(Path(d))["time/steps_per_second"]
    return statistics.median(sps[1:])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    rates: dict[str, list[float]] = {k: [] for k in CONFIGS}
    sims = []
    for _ in range(args.rounds):
        sims.append(random_action_rate("Hopper-v5", 4, 8000))
        for name, flags in CONFIGS.items():
            rates[name].append(train_rate(flags, args.updates))
            print(name, f"{rates[name][-1]:.0f} steps/s", flush=True)
    sim = statistics.median(sims)
    med = {k: statistics.median(v) for k, v in rates.items()}
    out = {"machine": platform.platform(), "cpus": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d"), "updates": args.updates, "rounds": args.rounds,
           "raw_sim_steps_per_second": sims, "train_steps_per_second": rates}
    (HERE / "results.json").write_text(json.dumps(out, indent=2))
    lines = [f"`python benchmarks/throughput/run.py --updates {args.updates} --rounds "
             f"{args.rounds}` on {out['machine']}, {out['cpus']} CPUs, {out['date']}; one "
             "process at a time, median over rounds.", "",
             f"Raw simulator rate (Hopper-v5, 4 envs, random actions): {sim:.0f} steps/s", "",
             "| configuration | steps/s | / raw sim | / gaussian (same mode) |",
             "|---|---|---|---|"]
    for k, v in med.items():
        base = med["gaussian --compile" if "compile" in k else "gaussian"]
        lines.append(f"| {k} | {v:.0f} | {v / sim:.2f} | {v / base:.2f} |")
    (HERE / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
