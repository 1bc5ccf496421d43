"""Fine-tune MultiGoal policies pretrained with every goal / one goal / two goals to one goal
picked after training (``--env-kwargs '{"target": k}'``, every k), and count the steps until an
update's success rate reaches 0.9 (the soft Q-learning paper's experiment, on-policy).

    python benchmarks/runs.py fetch benchmarks/multimodal/hold_k benchmarks/multimodal/hold \
        benchmarks/multimodal/hold_gauss       # the pretrained runs (bench-runs branch)
    python benchmarks/multimodal/finetune_multigoal.py [--arms ARM,ARM,...] [--seeds 1,2,...]

Pretrained (147k steps, seed s of each grid; the fine-tuning run uses the same seed):
flow-hold16 (hold_k.toml: all four goals), flow-single (hold.toml's flow-mix: one goal),
gaussian (hold_gauss.toml: one goal), gaussian-held (hold.toml: two goals), preset
(preset_multigoal.toml's std05 arm: ``--preset multimodal``, four held flows). Fine-tuning:
``STEPS`` at the pretraining settings with PPO. Arm flow-hold16 keeps its fixed weights;
flow-hold16-logits30 learns only the mixture logits (new, starting uniform) at 30x the
learning rate; flow-hold16-weights learns everything plus the logits; flow-scratch is a fresh
held-lump flow. Equal tuning: gaussian-lr10 / gaussian-lr30 fine-tune the one-goal Gaussian at
10x / 30x the learning rate (actor and critic), flow-single-lr30 the one-goal flow's actor at
30x. Arm preset fine-tunes the ``--preset multimodal`` run with the preset, its group weights
following the returns from the first update (``--flow-groups-start 0``; pretraining started
them at 1/2) and restarts at 0.75 sigma (the preset's own until Session 24; the rows were
measured with it and its bonus at 0.05, which the arm pins). Arm preset01 does the same from
the preset with its bonus at 0.1 (Session 25: preset_multigoal_ent.toml's ent01 arm). Run
dirs go to ``--work`` (outside the tree; finished runs are reused); results to ``--out``
(benchmarks/multimodal/finetune_multigoal.json; rows without a seed are seed 1, rows without
a date are from 2026-12-01).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS, THRESHOLD = 24576, 0.9
HELD = ("--policy flow --flow-base-mixture 16 --flow-base-mixture-init sphere "
        "--flow-base-mixture-hold")
HOLD16 = "hold_k/runs/nfpo-MultiGoal-v0__flow-hold16__s{seed}"
SINGLE = "hold/runs/nfpo-MultiGoal-v0__flow-mix__s{seed}"
GAUSS = "hold_gauss/runs/nfpo-MultiGoal-v0__gaussian__s{seed}"
PRESET = "preset_multigoal/runs/nfpo-MultiGoal-v0__std05__s{seed}"
PRESET01 = "preset_multigoal_ent/runs/nfpo-MultiGoal-v0__ent01__s{seed}"
PRETRAINED = {"flow-hold16": HOLD16, "flow-hold16-logits30": HOLD16,
              "flow-hold16-weights": HOLD16, "flow-single": SINGLE, "flow-single-lr30": SINGLE,
              "gaussian": GAUSS, "gaussian-lr10": GAUSS, "gaussian-lr30": GAUSS,
              "gaussian-held": "hold/runs/nfpo-MultiGoal-v0__gaussian-held__s{seed}",
              "preset": PRESET, "preset01": PRESET01}
# the preset fine-tuned: weights follow the returns from the first update, restarts copy the
# group on the paying goal
FINETUNE_PRESET = "--preset multimodal --flow-groups-start 0 --flow-groups-restart 0.75"
ARMS = {"flow-hold16": HELD,
        "flow-hold16-logits30": HELD + " --flow-base-mixture-weights --freeze policy.flow "
                                       "policy.base_dist.means --flow-lr-scale 30",
        "flow-hold16-weights": HELD + " --flow-base-mixture-weights",
        "flow-single": "--policy flow --flow-base-mixture 8 --flow-base-mixture-init sphere",
        "flow-single-lr30": "--policy flow --flow-base-mixture 8 --flow-base-mixture-init sphere "
                            "--flow-lr-scale 30",
        "gaussian": "--policy gaussian",
        "gaussian-lr10": "--policy gaussian --learning-rate 3e-3",
        "gaussian-lr30": "--policy gaussian --learning-rate 9e-3",
        "gaussian-held": "--policy gaussian --noise-correlation 1",
        "flow-scratch": HELD,
        "preset": FINETUNE_PRESET + " --ent-coef 0.05",  # the preset's bonus until Session 25
        "preset01": FINETUNE_PRESET}
COMMON = (f"--env nfpo/MultiGoal-v0 --num-envs 16 --num-steps 64 --num-minibatches 4 "
          f"--action-bound tanh --ent-coef 0.05 --total-steps {STEPS} "
          f"--eval-episodes 0 --no-progress --no-report --no-tensorboard")


def success(row: dict) -> float | None:
    v = row.get("episode/success_rate")
    return None if v in (None, "", "nan") else float(v)


def run(arm: str, target: int, seed: int, work: Path) -> dict:
    d = work / (f"{arm}_t{target}" if seed == 1 else f"{arm}_s{seed}_t{target}")
    if not (d / "summary.json").exists():
        cmd = [sys.executable, "-m", "nfpo", "train", *COMMON.split(), *ARMS[arm].split(),
               "--seed", str(seed), "--env-kwargs", json.dumps({"target": target}),
               "--run-dir", str(d), "--overwrite"]
        if arm in PRETRAINED:
            cmd += ["--init-from", str(HERE / PRETRAINED[arm].format(seed=seed))]
        subprocess.run(cmd, check=True, capture_output=True)
    with open(d / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    first = next((int(r["global_step"]) for r in rows
                  if (s := success(r)) is not None and s >= THRESHOLD), None)
    last = [s for r in rows[-5:] if (s := success(r)) is not None]
    return {"arm": arm, "target": target, "seed": seed, "first_step_success_0.9": first,
            "final_success_last5": sum(last) / max(len(last), 1),
            "date": time.strftime("%Y-%m-%d", time.gmtime((d / "summary.json").stat().st_mtime))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arms", default=",".join(ARMS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/ftmg"))
    ap.add_argument("--out", type=Path, default=HERE / "finetune_multigoal.json")
    ap.add_argument("--seeds", default="1", help="pretraining (and fine-tuning) seeds, e.g. 1,2,3")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    jobs = [(arm, k, int(s)) for s in a.seeds.split(",") for arm in a.arms.split(",")
            for k in range(4)]
    with ThreadPoolExecutor(a.workers) as ex:
        res = list(ex.map(lambda j: run(*j, a.work), jobs))
    old = json.loads(a.out.read_text())["runs"] if a.out.exists() else []

    def key(r: dict) -> tuple:
        return r["arm"], r["target"], r.get("seed", 1)
    new = {key(r) for r in res}
    runs = sorted([r for r in old if key(r) not in new] + res,
                  key=lambda r: (r.get("seed", 1), r["arm"], r["target"]))
    a.out.write_text(json.dumps({"date": "2026-12-01 (first rows; each later row has its own)",
                                 "machine": "2-core CPU (no GPU)",
                                 "fine_tune_steps": STEPS,
                                 "threshold": f"first update with success rate >= {THRESHOLD}",
                                 "runs": runs}, indent=1))
    for r in res:
        print(r)


if __name__ == "__main__":
    main()
