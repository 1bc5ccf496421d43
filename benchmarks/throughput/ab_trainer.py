"""A/B of two nfpo checkouts on the trainer's own loop: rollout time and PPO-update time per
update, measured inside the process (no start-up), alternating the checkouts round by round.

    python benchmarks/throughput/ab_trainer.py --a . --b /tmp/nfpo-ref [--num-envs 1]
        [--policy gaussian] [--rounds 5] [--out benchmarks/throughput/ab_trainer.json]

Each round runs one subprocess per checkout (order alternating): Hopper-v5, CleanRL settings
(2048 steps per env per update), one warm-up update, then ``--updates`` timed updates. The
table gives, per round, B's time / A's time for the rollout and for the update (> 1: A is
faster), and their medians: ratios of neighbouring runs, as the machine's speed drifts.
Both checkouts need the trainer's ``collector`` (commits from 2026-12-03 on).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, sys, tempfile, time
from nfpo.config import TrainConfig
from nfpo.runner import Trainer
policy, num_envs, updates = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
cfg = TrainConfig()
cfg.env.id, cfg.env.num_envs, cfg.policy.kind = "Hopper-v5", num_envs, policy
cfg.ppo.num_steps = 2048
cfg.run.run_dir = tempfile.mkdtemp() + "/run"
cfg.run.progress = cfg.run.tensorboard = False
tr = Trainer(cfg.validate())
tr.collector.start(1, None, False)
out = {"rollout": [], "update": []}
for i in range(updates + 1):
    t = time.perf_counter(); tr.rollout(); r = time.perf_counter() - t
    t = time.perf_counter(); tr.ppo.update(tr.storage); u = time.perf_counter() - t
    tr.storage.clear()
    if i:  # the first update is a warm-up
        out["rollout"].append(r); out["update"].append(u)
import nfpo
out["nfpo"] = nfpo.__file__
print(json.dumps(out))
"""


def run(root: Path, policy: str, num_envs: int, updates: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(root.resolve()), "OMP_NUM_THREADS": "1"}
    # cwd outside both checkouts: ``python -c`` puts the cwd before PYTHONPATH on sys.path
    p = subprocess.run([sys.executable, "-c", CHILD, policy, str(num_envs), str(updates)],
                       env=env, capture_output=True, text=True, check=True,
                       cwd=tempfile.gettempdir())
    out = json.loads(p.stdout.strip().splitlines()[-1])
    if not out["nfpo"].startswith(str(root.resolve())):
        raise SystemExit(f"{root}: the child imported {out['nfpo']}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", type=Path, default=Path("."))
    ap.add_argument("--b", type=Path, required=True)
    ap.add_argument("--policy", default="gaussian")
    ap.add_argument("--num-envs", type=int, default=1)
    ap.add_argument("--updates", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    rows = []
    for k in range(args.rounds):
        order = [("a", args.a), ("b", args.b)][:: 1 if k % 2 == 0 else -1]
        res = {name: run(root, args.policy, args.num_envs, args.updates) for name, root in order}
        row = {"round": k, **{f"{n}_{part}": sum(res[n][part]) for n in "ab"
                              for part in ("rollout", "update")}}
        row["rollout_b_over_a"] = row["b_rollout"] / row["a_rollout"]
        row["update_b_over_a"] = row["b_update"] / row["a_update"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    med = {k: statistics.median(r[k] for r in rows)
           for k in ("rollout_b_over_a", "update_b_over_a")}
    print(f"median B/A: rollout {med['rollout_b_over_a']:.2f}, update "
          f"{med['update_b_over_a']:.2f} ({args.policy}, {args.num_envs} env(s))")
    if args.out:
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                        "rows": rows, "median": med}, indent=1))


if __name__ == "__main__":
    main()
