"""Wall-clock of the mixture of flows against one flow and the Gaussian, side by side.

Trains each arm for the same steps on MultiGoal (multigoal_groups.toml's settings), in
alternating rounds on one machine, and writes steps/s per arm and the ratios to
``groups_cost.json``. Usage: ``python benchmarks/multimodal/groups_cost.py [--steps N]
[--rounds R]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMON = ("--env nfpo/MultiGoal-v0 --num-envs 16 --num-steps 64 --num-minibatches 4 "
          "--action-bound tanh --ent-coef 0.05 --ent-coef-final 0 --seed 1 --no-progress "
          "--torch-threads 1 --eval-episodes 0 --no-report --no-tensorboard")
MIXTURE = ("--policy flow --flow-base-mixture 4 --flow-base-mixture-std 1.0 "
           "--flow-base-mixture-init sphere --flow-base-mixture-hold --flow-groups 4 "
           "--flow-base-mixture-condition")
ARMS = {
    "gaussian": "--policy gaussian",
    "flow, 16 held lumps": "--policy flow --flow-base-mixture 16 --flow-base-mixture-init sphere "
                           "--flow-base-mixture-hold",
    "mixture of 4 flows, V(s, g)": MIXTURE,
    "mixture of 4 flows, one shared stack, V(s, g)": MIXTURE + " --flow-groups-shared",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=16384)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    times: dict[str, list[float]] = {a: [] for a in ARMS}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for i, (arm, flags) in enumerate(ARMS.items()):
                cmd = [sys.executable, "-m", "nfpo", "train", *COMMON.split(), *flags.split(),
                       "--total-steps", str(args.steps), "--run-dir", f"{tmp}/{r}-{i}"]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                times[arm].append(time.perf_counter() - t0)
                print(f"round {r} {arm}: {times[arm][-1]:.1f} s", file=sys.stderr)
    best = {a: min(t) for a, t in times.items()}
    out = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, 2-core CPU",
           "command": f"python benchmarks/multimodal/groups_cost.py --steps {args.steps} "
                      f"--rounds {args.rounds}",
           "note": "whole process wall-clock (imports and setup included), best of the rounds",
           "seconds": times, "steps_per_second": {a: args.steps / t for a, t in best.items()},
           "ratio_to_one_flow": {a: best["flow, 16 held lumps"] / t for a, t in best.items()},
           "ratio_to_gaussian": {a: best["gaussian"] / t for a, t in best.items()}}
    path = Path(__file__).with_name("groups_cost.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["ratio_to_one_flow"], indent=1))


if __name__ == "__main__":
    main()
