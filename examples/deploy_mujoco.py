"""Run an exported nfpo policy in MuJoCo with the torch-free runtime (numpy + onnxruntime).

    nfpo export RUN_DIR --format onnx        # writes RUN_DIR/export/policy_deterministic.onnx
    python examples/deploy_mujoco.py RUN_DIR/export/policy_deterministic.onnx --episodes 10

It uses the same episode seeds as ``nfpo eval`` (10000, 10001, ...), so the mean return
matches ``nfpo eval RUN_DIR --deterministic`` up to float32 differences between onnxruntime
and PyTorch (which can grow over a long chaotic rollout). The control loop also reports the
policy's per-step latency, the number that matters on a robot.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import gymnasium as gym
import numpy as np

from nfpo.deploy import Policy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="exported .onnx file")
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--seed", type=int, default=10_000)
    ap.add_argument("--stochastic", action="store_true", help="sample (stochastic exports)")
    args = ap.parse_args()

    policy = Policy.load(args.model)
    env = gym.make(policy.meta["env_id"])
    rng = np.random.default_rng(args.seed)
    returns, latencies = [], []
    for ep in range(args.episodes):
        obs, _ = env.reset(seed=args.seed + ep)
        done, ret = False, 0.0
        while not done:
            t = time.perf_counter()
            action = policy.sample(obs, rng) if args.stochastic else policy.act(obs)
            latencies.append(time.perf_counter() - t)
            obs, reward, term, trunc, _ = env.step(action)
            ret += float(reward)
            done = term or trunc
        returns.append(ret)
    lat = np.asarray(latencies) * 1e6
    result = {"env": policy.meta["env_id"], "episodes": args.episodes,
              "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
              "latency_us_median": float(np.median(lat)), "latency_us_p99":
              float(np.percentile(lat, 99)), "torch_imported": "torch" in sys.modules}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
