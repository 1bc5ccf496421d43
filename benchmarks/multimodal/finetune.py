"""Does a multimodal pretrained policy adapt faster? Pretrain on the 4-peak bandit, then
fine-tune to one peak picked after training (every peak in turn), and count the steps.

    python benchmarks/multimodal/finetune.py --out runs/multimodal-finetune --workers 2

1. Pretrain (awr4.toml's recipe, ``PRETRAIN_STEPS``): ``flow-multi`` (AWR + outcome bonus: all
   four peaks), ``flow-single`` (AWR without the bonus: one peak), ``gaussian`` (AWR + bonus:
   diffuse), ``flow-mixw-multi`` (``flow-multi`` on a 16-component mixture base with learned
   weights: the lumps are components), each for every seed (``--arms`` picks a subset).
   ``flow-mixw-logits`` fine-tunes ``flow-mixw-multi`` with everything but the mixture
   weights frozen (``--freeze``).
2. Fine-tune every pretrained run to each target peak k (``--env-kwargs {"target": k}``: only
   peak k pays) with ``--init-from`` and PPO's clipped surrogate (``FINETUNE_ARGS``), and the
   same from scratch (``flow-scratch``, ``gaussian-scratch``).
3. Per fine-tune run: the first step at which an update's mean reward reaches ``THRESHOLD``
   (from metrics.csv), and the success on the target in ``EPISODES`` stochastic episodes of the
   final policy. Writes ``--results`` (every run; benchmarks/multimodal/finetune.json) and
   prints the table of benchmarks/multimodal/README.md. The run dirs stay in OUT, outside the
   source tree. Resumable: finished runs are kept and skipped.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

PRETRAIN_STEPS, FINETUNE_STEPS, THRESHOLD, EPISODES = 49152, 16384, 0.8, 200
COMMON = ["--env", "nfpo/BimodalBandit-v0", "--num-envs", "4", "--num-steps", "64",
          "--num-minibatches", "4", "--action-bound", "tanh", "--no-tensorboard",
          "--no-progress", "--no-report", "--eval-episodes", "0"]
AWR = ["--policy-loss", "awr", "--target-kl", "0.05", "--kl-stop", "minibatch",
       "--ent-reward-coef", "0.1"]
BONUS = ["--outcome-bonus", "0.2", "--outcome-bandwidth", "0.2"]
MIXTURE = ["--flow-base-mixture", "16", "--flow-base-mixture-weights"]
ARCH = {"flow-multi": ["--policy", "flow"], "flow-single": ["--policy", "flow"],
        "gaussian": ["--policy", "gaussian"], "flow-mixw-multi": ["--policy", "flow", *MIXTURE]}
PRETRAIN = {"flow-multi": [*ARCH["flow-multi"], *AWR, *BONUS],
            "flow-single": [*ARCH["flow-single"], *AWR],
            "gaussian": [*ARCH["gaussian"], *AWR, *BONUS],
            "flow-mixw-multi": [*ARCH["flow-mixw-multi"], *AWR, *BONUS]}
FINETUNE = {"ppo": [],  # PPO's defaults (clipped surrogate, KL stop of the policy)
            "awr": ["--policy-loss", "awr", "--target-kl", "0.05", "--kl-stop", "minibatch"]}
SCRATCH = {"flow-scratch": "flow", "gaussian-scratch": "gaussian"}
# fine-tuning variants of a pretrained arm: only the mixture weights adapt
VARIANTS = {"flow-mixw-logits": ("flow-mixw-multi",
                                 ["--freeze", "policy.flow", "policy.base_dist.means"]),
            # the same with the logits' learning rate x30 (the flow group's scale: all that
            # is left in it are the logits)
            "flow-mixw-logits-lr30": ("flow-mixw-multi",
                                      ["--freeze", "policy.flow", "policy.base_dist.means",
                                       "--flow-lr-scale", "30"])}


def train(run_dir: Path, args: list[str], steps: int, seed: int, kwargs: dict) -> None:
    if (run_dir / "summary.json").exists():
        return
    cmd = [sys.executable, "-m", "nfpo", "train", *COMMON, "--env-kwargs", json.dumps(kwargs),
           "--total-steps", str(steps), "--seed", str(seed), "--run-dir", str(run_dir),
           "--overwrite", *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def steps_to(run_dir: Path, threshold: float) -> int | None:
    """First global step whose update's mean episode reward is >= threshold (None: never)."""
    with open(run_dir / "metrics.csv") as f:
        for row in csv.DictReader(f):
            if float(row["episode/return"]) >= threshold:
                return int(row["global_step"])
    return None


def evaluate_run(run_dir: Path) -> dict:
    out = run_dir / "eval.json"
    if not out.exists():
        from nfpo.evaluate import evaluate

        res = evaluate(run_dir, episodes=EPISODES, deterministic=False)
        out.write_text(json.dumps({k: res[k] for k in ("mean_return", "mode_fractions")}))
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("runs/multimodal-finetune"))
    ap.add_argument("--results", type=Path,
                    default=Path(__file__).with_name("finetune.json"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--arms", nargs="+", default=[*PRETRAIN, *VARIANTS, *SCRATCH],
                    help="pretrained and scratch arms to run")
    ap.add_argument("--threshold", type=float, default=THRESHOLD,
                    help="an update's mean reward that counts as reaching the target")
    ap.add_argument("--pretrain-steps", type=int, default=PRETRAIN_STEPS)
    ap.add_argument("--finetune-steps", type=int, default=FINETUNE_STEPS)
    ap.add_argument("--finetune-loss", choices=list(FINETUNE), default="ppo",
                    help="the fine-tuning update (awr: the pretraining's loss, no bonus)")
    a = ap.parse_args(argv)
    needed = set(a.arms) | {VARIANTS[v][0] for v in a.arms if v in VARIANTS}
    pre = {(arm, s): a.out / "pretrain" / f"{arm}-s{s}" for arm in PRETRAIN for s in a.seeds
           if arm in needed}
    with ThreadPoolExecutor(a.workers) as pool:
        list(pool.map(lambda k: train(pre[k], PRETRAIN[k[0]], a.pretrain_steps, k[1],
                                      {"num_modes": 4}), pre))
    jobs = {}
    for variant, (base, flags) in VARIANTS.items():
        for s in a.seeds if variant in a.arms else []:
            for k in range(4):
                jobs[(variant, s, k)] = [*ARCH[base], "--init-from", str(pre[(base, s)]),
                                         *flags, *FINETUNE[a.finetune_loss]]
    for (arm, s), src in pre.items():
        if arm not in a.arms:
            continue
        for k in range(4):
            jobs[(arm, s, k)] = [*ARCH[arm], "--init-from", str(src),
                                 *FINETUNE[a.finetune_loss]]
    for arm, kind in SCRATCH.items():
        for s in a.seeds if arm in a.arms else []:
            for k in range(4):
                jobs[(arm, s, k)] = ["--policy", kind, *FINETUNE[a.finetune_loss]]
    stage = "finetune" if a.finetune_loss == "ppo" else f"finetune-{a.finetune_loss}"
    ft = {key: a.out / stage / f"{key[0]}-s{key[1]}-peak{key[2]}" for key in jobs}
    with ThreadPoolExecutor(a.workers) as pool:
        list(pool.map(lambda key: train(ft[key], jobs[key], a.finetune_steps, key[1],
                                        {"num_modes": 4, "target": key[2]}), jobs))
    rows = []
    for (arm, s), src in pre.items():
        rows.append({"stage": "pretrain", "arm": arm, "seed": s, **evaluate_run(src)})
    for variant, (base, _) in VARIANTS.items():  # a variant starts from its base's pretraining
        rows += [{**r, "arm": variant} for r in list(rows)
                 if r["stage"] == "pretrain" and r["arm"] == base and variant in a.arms]
    for (arm, s, k), d in ft.items():
        r = evaluate_run(d)
        rows.append({"stage": "finetune", "arm": arm, "seed": s, "target": k,
                     "steps_to_threshold": steps_to(d, a.threshold), "threshold": a.threshold,
                     "target_share": r["mode_fractions"][k], "return": r["mean_return"]})
    a.results.write_text(json.dumps(rows, indent=1))
    pre_share = {(r["arm"], r["seed"]): r["mode_fractions"] for r in rows
                 if r["stage"] == "pretrain"}
    print(f"| start | share of the target peak before | runs reaching reward {a.threshold} | "
          "median steps to it | final share on the target |\n|---|---|---|---|---|")
    for arm in [x for x in [*PRETRAIN, *VARIANTS, *SCRATCH] if x in a.arms]:
        fr = [r for r in rows if r["stage"] == "finetune" and r["arm"] == arm]
        steps = [r["steps_to_threshold"] or np.inf for r in fr]  # never: censored
        med = np.median(steps)
        before = (f"{np.mean([pre_share[(arm, r['seed'])][r['target']] for r in fr]):.2f}"
                  if arm in PRETRAIN or arm in VARIANTS else "-")
        print(f"| {arm} | {before} | {sum(np.isfinite(steps))}/{len(fr)} | "
              f"{f'{int(med):,}' if np.isfinite(med) else f'> {a.finetune_steps:,}'} | "
              f"{np.mean([r['target_share'] for r in fr]):.2f} |")

if __name__ == "__main__":
    main()
