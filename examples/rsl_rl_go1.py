"""Train nfpo's flow policy with rsl_rl's own OnPolicyRunner on MuJoCo Playground Go1
(EnvPool, asymmetric actor-critic), then export it with rsl_rl's JIT and ONNX exporters.

    pip install 'torch==2.13.0' 'nfpo[rsl_rl,envpool,export]'
    python examples/rsl_rl_go1.py --iterations 50 --num-envs 64
    python examples/rsl_rl_go1.py --policy gaussian           # rsl_rl's Gaussian, same settings
    python examples/rsl_rl_go1.py --task Hopper-v5 --backend gymnasium --critic-group policy

Only the config differs from a stock rsl_rl run (``nfpo.integrations.rsl_rl.train_cfg``):
the actor's ``distribution_cfg`` names ``FlowDistribution`` and the ``algorithm`` names
``NFPOPPO`` (rsl_rl's PPO plus the per-minibatch KL stop). Go1 with 64 envs takes ~3.7 GB.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from rsl_rl.runners import OnPolicyRunner

from nfpo.integrations.rsl_rl import NfpoVecEnv, train_cfg


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="Go1JoystickFlatTerrain-v1")
    p.add_argument("--backend", default="envpool", choices=["envpool", "gymnasium"])
    p.add_argument("--policy", default="flow", choices=["flow", "gaussian"])
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--critic-group", default="critic",
                   help="observation group of the critic: critic (privileged) or policy")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--log-dir", default="runs/rsl_rl_go1")
    args = p.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(1)
    envpool = args.backend == "envpool"
    env = NfpoVecEnv(args.task, args.num_envs, seed=args.seed, backend=args.backend,
                     obs_key="state" if envpool else "",
                     critic_obs_key="privileged_state" if envpool else "")
    cfg = train_cfg(args.policy, critic_group=args.critic_group)
    log_dir = Path(args.log_dir) / f"{args.policy}_s{args.seed}"
    runner = OnPolicyRunner(env, cfg, log_dir=str(log_dir), device="cpu")
    start = time.perf_counter()
    runner.learn(args.iterations)
    wall = time.perf_counter() - start
    runner.export_policy_to_jit(str(log_dir / "exported"))
    runner.export_policy_to_onnx(str(log_dir / "exported"))
    steps = args.iterations * cfg["num_steps_per_env"] * args.num_envs
    summary = {"task": args.task, "policy": args.policy, "iterations": args.iterations,
               "env_steps": steps, "wall_s": round(wall, 1), "steps_per_s": round(steps / wall),
               "exported": sorted(p.name for p in (log_dir / "exported").iterdir())}
    (log_dir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    env.close()


if __name__ == "__main__":
    main()
