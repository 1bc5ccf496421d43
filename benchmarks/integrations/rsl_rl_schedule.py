"""rsl_rl's adaptive learning rate with a flow: does it collapse, and does NFPOPPO avoid it?

Stock rsl_rl OnPolicyRunner on one task, side by side in one process:
  flow-adaptive      FlowDistribution + rsl_rl PPO, schedule="adaptive" (rsl_rl's default)
  gaussian-adaptive  GaussianDistribution + rsl_rl PPO, schedule="adaptive"
  flow-nfpoppo       FlowDistribution + NFPOPPO (fixed lr 3e-4, per-minibatch KL stop 0.05)
Records the learning rate after every iteration and the returns of finished episodes.

    python benchmarks/integrations/rsl_rl_schedule.py --task Hopper-v5 --iterations 60 \
        --out benchmarks/integrations/rsl_rl_schedule.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch
from rsl_rl.runners import OnPolicyRunner

from nfpo.integrations.rsl_rl import NfpoVecEnv, train_cfg

ARMS = ("flow-adaptive", "gaussian-adaptive", "flow-nfpoppo")


def run(arm: str, task: str, iterations: int, num_envs: int, seed: int) -> dict:
    torch.manual_seed(seed)
    env = NfpoVecEnv(task, num_envs, seed=seed)
    cfg = train_cfg("gaussian" if arm.startswith("gaussian") else "flow", critic_group="policy",
                    learning_rate=1e-3 if arm.endswith("adaptive") else 3e-4)
    if arm.endswith("adaptive"):  # rsl_rl's stock algorithm and schedule
        cfg["algorithm"] = {k: v for k, v in cfg["algorithm"].items()
                            if k not in ("target_kl", "kl_stop")}
        cfg["algorithm"].update(class_name="PPO", schedule="adaptive")
    runner = OnPolicyRunner(env, cfg, log_dir=None, device="cpu")
    lrs, t0 = [], time.perf_counter()
    for _ in range(iterations):
        runner.learn(1)
        lrs.append(runner.alg.learning_rate)
    wall = time.perf_counter() - t0
    rets = env.episode_returns
    tail = rets[-max(len(rets) // 5, 1):]
    env.close()
    return {"arm": arm, "lr": lrs, "lr_final": lrs[-1],
            "iters_at_floor": int(sum(lr <= 1.0001e-5 for lr in lrs)),
            "first_floor_iter": next((i for i, lr in enumerate(lrs) if lr <= 1.0001e-5), None),
            "episodes": len(rets), "return_last20pct": float(np.mean(tail)) if rets else None,
            "wall_s": round(wall, 1)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--task", default="Hopper-v5")
    p.add_argument("--iterations", type=int, default=60)
    p.add_argument("--num-envs", type=int, default=32)
    p.add_argument("--seeds", type=int, nargs="+", default=[1])
    p.add_argument("--out", default="benchmarks/integrations/rsl_rl_schedule.json")
    a = p.parse_args()
    torch.set_num_threads(1)
    results = [run(arm, a.task, a.iterations, a.num_envs, s) | {"seed": s}
               for s in a.seeds for arm in ARMS]
    meta = {"task": a.task, "iterations": a.iterations, "num_envs": a.num_envs,
            "steps_per_iteration": 24 * a.num_envs, "date": time.strftime("%Y-%m-%d"),
            "machine": f"{platform.processor() or platform.machine()}, torch {torch.__version__}"}
    with open(a.out, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    for r in results:
        print(f"{r['arm']:18s} s{r['seed']} lr_final {r['lr_final']:.1e} at 1e-5 floor "
              f"{r['iters_at_floor']}/{a.iterations} (first at {r['first_floor_iter']}) "
              f"return {r['return_last20pct']} episodes {r['episodes']} {r['wall_s']} s")


if __name__ == "__main__":
    main()
