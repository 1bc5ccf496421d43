"""gymnasium's SyncVectorEnv (SAME_STEP) against nfpo's SameStepVectorEnv on random actions:
microseconds per env step, alternating the two in one process round by round.

    python benchmarks/throughput/vector_env.py [--env Hopper-v5] [--rounds 20]
        [--out benchmarks/throughput/vector_env.json]

Both step the same envs with the same pre-drawn actions (the results are the same, bit for bit:
tests/test_vector_env.py); each round times 512 env steps per vector env at 1 and 4 envs.
The ratio is per round, sync / lean (> 1: the lean step is faster), and its median.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import nfpo.registration  # noqa: F401
from nfpo.envs.vector import SameStepVectorEnv


def _make(kind: str, env_id: str, n: int) -> SyncVectorEnv:
    fns = [lambda: gym.make(env_id) for _ in range(n)]
    envs = SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP) if kind == "sync" \
        else SameStepVectorEnv(fns)
    envs.reset(seed=0)
    return envs


def _us_per_step(envs: SyncVectorEnv, actions: list[np.ndarray]) -> float:
    t = time.perf_counter()
    for a in actions:
        envs.step(a)
    return (time.perf_counter() - t) / (len(actions) * envs.num_envs) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="Hopper-v5")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    out = {"env": args.env, "rounds": args.rounds, "machine": platform.platform(),
           "date": time.strftime("%Y-%m-%d"), "results": {}}
    rng = np.random.default_rng(0)
    for n in (1, 4):
        sync, lean = _make("sync", args.env, n), _make("lean", args.env, n)
        shape = sync.action_space.shape
        actions = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(512 // n)]
        rows = [(_us_per_step(sync, actions), _us_per_step(lean, actions))
                for _ in range(args.rounds)]
        ratio = statistics.median(s / lean_us for s, lean_us in rows)
        out["results"][str(n)] = {"sync_us": [s for s, _ in rows],
                                  "lean_us": [x for _, x in rows], "ratio_median": ratio}
        print(f"{n} env(s): sync {statistics.median(s for s, _ in rows):.1f} us, lean "
              f"{statistics.median(x for _, x in rows):.1f} us per env step; sync / lean "
              f"{ratio:.2f} (median of {args.rounds} rounds)")
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
