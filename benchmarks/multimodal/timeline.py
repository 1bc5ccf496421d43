"""When does a run commit to its modes? Train with a checkpoint every few updates, then
evaluate every checkpoint with stochastic episodes and print the mode fractions over training.

    python benchmarks/multimodal/timeline.py --run-dir /tmp/tl/base-s1 --seed 1 -- \
        --policy flow --action-bound tanh --policy-loss awr --target-kl 0.05 --kl-stop minibatch \
        --ent-reward-coef 0.1 --outcome-bonus 2.0

writes RUN_DIR/timeline.json ([{step, mode_fractions, return}]). The results of the probes run
this way are in probes_timeline.json (docs/multimodal.md, "When MultiGoal commits").
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from nfpo.checkpoint import list_checkpoints
from nfpo.evaluate import evaluate


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--env", default="nfpo/MultiGoal-v0")
    ap.add_argument("--total-steps", type=int, default=49152)
    ap.add_argument("--every", type=int, default=8, help="updates between checkpoints")
    ap.add_argument("--episodes", type=int, default=100, help="stochastic episodes per checkpoint")
    ap.add_argument("train_args", nargs="*", help="more `nfpo train` flags (after --)")
    a = ap.parse_args(argv)
    cmd = [sys.executable, "-m", "nfpo", "train", "--env", a.env, "--num-envs", "4",
           "--num-steps", "64", "--num-minibatches", "4", "--total-steps", str(a.total_steps),
           "--seed", str(a.seed), "--run-dir", str(a.run_dir), "--checkpoint-every",
           str(a.every), "--keep-checkpoints", "100000", "--no-report", "--no-tensorboard",
           "--no-progress", "--eval-episodes", "0", *a.train_args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    rows = []
    for ckpt in list_checkpoints(a.run_dir):
        step = int(ckpt.name.split("_")[-1])
        r = evaluate(a.run_dir, episodes=a.episodes, deterministic=False, checkpoint=step)
        rows.append({"step": step, "mode_fractions": r["mode_fractions"],
                     "return": r["mean_return"]})
        print(step, [round(x, 2) for x in r["mode_fractions"]], round(r["mean_return"], 2),
              flush=True)
    (a.run_dir / "timeline.json").write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
