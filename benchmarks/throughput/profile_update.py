"""Where a training update's time goes: cProfile of nfpo's trainer (Gaussian and flow) on one
workload, split into the simulator, the per-step work around it, and the PPO update.

    python benchmarks/throughput/profile_update.py [--env Hopper-v5] [--updates 6] [--num-envs 4]

Writes profile_update.json (raw) and profile_update.md (table) beside this script. cProfile
adds overhead to every Python call, so the shares are what to read, not the absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import tempfile
import time
from pathlib import Path

import torch

from nfpo.config import TrainConfig
from nfpo.runner import Trainer

HERE = Path(__file__).parent
# (row, function name, a substring of its file): cumulative time of that function
PARTS = [
    ("rollout (all)", "_rollout", "nfpo/runner.py"),
    ("  simulator: vector env step", "step", "gymnasium/vector/sync_vector_env.py"),
    ("    of which MuJoCo physics (mj_step)", "<built-in method mujoco._functions.mj_step>", ""),
    ("  observation to tensors + normalizer", "_inputs", "nfpo/runner.py"),
    ("  policy sample", "sample", "nfpo/policies/base.py"),
    ("  critic", "forward", "nfpo/policies/critic.py"),
    ("  reward scaling", "__call__", "nfpo/normalization.py"),
    ("  storage writes", "add", "nfpo/storage.py"),
    ("  reward-term bookkeeping", "add", "nfpo/envs/terms.py"),
    ("  non-finite check", "check", "nfpo/envs/nonfinite.py"),
    ("  GAE", "compute_gae", "nfpo/storage.py"),
    ("PPO update", "update", "nfpo/algo/ppo.py"),
]


def cumulative(stats: pstats.Stats, name: str, file_part: str) -> float:
    total = 0.0
    for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if func == name and file_part in file:
            total += ct
    return total


def profile(policy: str, env: str, updates: int, num_envs: int) -> dict[str, float]:
    cfg = TrainConfig()
    cfg.env.id, cfg.env.num_envs, cfg.policy.kind = env, num_envs, policy
    cfg.ppo.num_steps = 2048 // num_envs
    cfg.run.total_steps = updates * 2048
    cfg.run.progress = cfg.run.tensorboard = cfg.run.report = False
    cfg.run.eval_episodes, cfg.run.checkpoint_every = 0, 10**6
    with tempfile.TemporaryDirectory() as d:
        cfg.run.run_dir = str(Path(d) / "run")
        trainer = Trainer(cfg)
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        trainer.train()
        prof.disable()
        wall = time.perf_counter() - t0
    stats = pstats.Stats(prof)
    total = cumulative(stats, "train", "nfpo/runner.py")
    out = {"wall_s": wall, "profiled_train_s": total}
    for row, name, part in PARTS:
        out[row.strip()] = cumulative(stats, name, part)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", default="Hopper-v5")
    ap.add_argument("--updates", type=int, default=6)
    ap.add_argument("--num-envs", type=int, default=4)
    args = ap.parse_args()
    torch.set_num_threads(1)
    res = {p: profile(p, args.env, args.updates, args.num_envs) for p in ("gaussian", "flow")}
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, "
            f"{platform.processor() or 'cpu'}", "env": args.env, "updates": args.updates,
            "num_envs": args.num_envs, "batch": 2048, "torch_threads": 1}
    (HERE / "profile_update.json").write_text(json.dumps({"meta": meta, "results": res}, indent=2))
    lines = [
        "# Where the time of a training update goes (cProfile)", "",
        f"`python benchmarks/throughput/profile_update.py --env {args.env} --updates "
        f"{args.updates} --num-envs {args.num_envs}`; {meta['date']}, {meta['machine']}, "
        f"2 cores, 1 torch thread, batch 2048 ({args.num_envs} envs x "
        f"{2048 // args.num_envs} steps), CleanRL settings otherwise. Share of the profiled "
        "`Trainer.train` time (cumulative time of each function; rows nest as indented). "
        "cProfile slows Python calls, so per-step Python work is over-weighted against the "
        "simulator's C code: read the shares, not the seconds.", "",
        "| part | Gaussian | flow |", "|---|---|---|"]
    for row, _, _ in PARTS:
        key = row.strip()
        cells = [f"{100 * res[p][key] / res[p]['profiled_train_s']:.1f}%" for p in res]
        lines.append(f"| {row.replace('  ', '&nbsp;&nbsp;')} | {cells[0]} | {cells[1]} |")
    lines.append(f"| total profiled (s) | {res['gaussian']['profiled_train_s']:.1f} | "
                 f"{res['flow']['profiled_train_s']:.1f} |")
    (HERE / "profile_update.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
