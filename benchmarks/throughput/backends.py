"""Simulator backends: raw simulator rate (random actions, no policy) vs training rate (env
steps/s including PPO updates), gymnasium vs EnvPool, flow vs Gaussian, on Hopper-v5, Ant-v5
and the MuJoCo Playground Go1 (EnvPool only).

Every training uses the same rsl_rl-like locomotion PPO (``nfpo train --preset legged``'s
PPO and network settings: 24 steps x ``--envs`` envs per update, 5 epochs x 4 minibatches,
ELU 128x128x128) so the rows differ only in simulator and policy. Each configuration trains
``--updates`` updates in its own process, one at a time; we report the median steps/s over
updates 2.. . Rounds alternate the configurations so machine noise hits all alike.

    python benchmarks/throughput/backends.py --envs 32 --updates 12 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import run  # the sibling script: train_rate

from nfpo.envs import random_action_rate
from nfpo.presets import PRESETS

HERE = Path(__file__).resolve().parent
TASKS = {"Hopper-v5": ("gymnasium", "envpool"), "Ant-v5": ("gymnasium", "envpool"),
         "Go1JoystickFlatTerrain-v1": ("envpool",)}
POLICIES = ("gaussian", "flow")


def ppo_flags() -> list[str]:
    """The legged preset without its task and simulator choices."""
    drop = {"--backend", "--env", "--critic-obs-key", "--num-envs"}
    flags, out = iter(shlex.split(PRESETS["legged"])), []
    for f in flags:
        if f in drop:
            next(flags)  # and its value
        else:
            out.append(f)
    return out


def train_rate(task: str, backend: str, policy: str, envs: int, updates: int) -> float:
    extra = ["--critic-obs-key", "privileged_state"] if task.startswith("Go1") else []
    flags = [*ppo_flags(), "--env", task, "--backend", backend, "--num-envs", str(envs),
             "--policy", policy, *extra, "--torch-threads", "1"]
    return run.train_rate(flags, updates, batch=24 * envs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", type=int, default=32)
    ap.add_argument("--updates", type=int, default=12)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sim-steps", type=int, default=20000)
    args = ap.parse_args()
    raw: dict[str, list[float]] = {}
    train: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for task, backends in TASKS.items():
            for b in backends:
                raw.setdefault(f"{task}|{b}", []).append(
                    random_action_rate(task, args.envs, args.sim_steps, backend=b))
                print(f"{task} {b} raw {raw[f'{task}|{b}'][-1]:.0f}", flush=True)
                for p in POLICIES:
                    key = f"{task}|{b}|{p}"
                    train.setdefault(key, []).append(train_rate(task, b, p, args.envs,
                                                                args.updates))
                    print(f"{task} {b} {p} train {train[key][-1]:.0f}", flush=True)
    out = {"machine": platform.platform(), "cpus": os.cpu_count(),
           "date": time.strftime("%Y-%m-%d"), "envs": args.envs, "updates": args.updates,
           "rounds": args.rounds, "ppo_flags": ppo_flags(),
           "raw_sim_steps_per_second": raw, "train_steps_per_second": train}
    (HERE / "backends.json").write_text(json.dumps(out, indent=2))
    med = {k: statistics.median(v) for k, v in {**raw, **train}.items()}
    cmd = "python benchmarks/throughput/backends.py " + " ".join(sys.argv[1:])
    lines = [f"`{cmd}` on {out['machine']}, {out['cpus']} CPUs, {out['date']}; {args.envs} envs, "
             f"median of {args.rounds} rounds.", "",
             "| task | simulator | raw sim steps/s | policy | train steps/s | train / raw | "
             "flow / gaussian | envpool / gymnasium |", "|---|---|---|---|---|---|---|---|"]
    for task, backends in TASKS.items():
        for b in backends:
            r = med[f"{task}|{b}"]
            for p in POLICIES:
                t = med[f"{task}|{b}|{p}"]
                fg = t / med[f"{task}|{b}|gaussian"]
                eg = (f"{t / med[f'{task}|gymnasium|{p}']:.2f}" if b == "envpool"
                      and len(backends) > 1 else "-")
                lines.append(f"| {task} | {b} | {r:.0f} | {p} | {t:.0f} | {t / r:.2f} | "
                             f"{fg:.2f} | {eg} |")
    (HERE / "backends.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
