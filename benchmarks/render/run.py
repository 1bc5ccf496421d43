"""Offscreen rendering cost per frame: gymnasium's default MuJoCo rendering vs nfpo's
CPU-tuned settings (no MSAA, shadows, reflections or skybox), same env and frame size.

    python benchmarks/render/run.py [--frames 40]

Writes results.json and table.md beside this script.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import gymnasium as gym
import numpy as np

import nfpo.envs  # noqa: F401  (sets MUJOCO_GL=egl when headless, registers nfpo/ tasks)
from nfpo.video import frame, render_env

HERE = Path(__file__).parent


def per_frame(env, render, frames: int) -> float:
    env.reset(seed=0)
    render(env)  # creates the GL context
    times = []
    for _ in range(frames):
        env.step(env.action_space.sample())
        t = time.perf_counter()
        render(env)
        times.append(time.perf_counter() - t)
    env.close()
    return float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=40)
    args = ap.parse_args()
    rows = []
    for env_id in ("Hopper-v5", "Ant-v5", "nfpo/ForkReach-v0"):
        for w, h in ((320, 240), (480, 360)):
            default = per_frame(gym.make(env_id, render_mode="rgb_array", width=w, height=h),
                                lambda e: e.render(), args.frames)
            tuned = per_frame(render_env(env_id, {}, w, h), frame, args.frames)
            rows.append({"env": env_id, "size": f"{w}x{h}", "default_ms": 1e3 * default,
                         "tuned_ms": 1e3 * tuned, "speedup": default / tuned})
            print(rows[-1])
    meta = {"date": time.strftime("%Y-%m-%d"), "machine": platform.platform(),
            "frames": args.frames, "rows": rows}
    (HERE / "results.json").write_text(json.dumps(meta, indent=1))
    lines = ["| env | frame | gymnasium default (ms/frame, median) | nfpo tuned | speed-up |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['env']} | {r['size']} | {r['default_ms']:.1f} | {r['tuned_ms']:.1f} | "
              f"{r['speedup']:.1f}x |" for r in rows]
    (HERE / "table.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
