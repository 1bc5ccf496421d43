"""Sim-to-sim: the exported ONNX policies of the long Go1 runs under model, sensor and timing
changes, run the way a robot would run them (numpy + onnxruntime, ``nfpo.deploy.Policy``).

    python benchmarks/legged/sim2sim.py [--runs RUN ...] [--envs 32] [--seed 0]

For each run: ``nfpo export`` of its newest checkpoint (deterministic ONNX, verified against
PyTorch), then one episode in each of ``--envs`` EnvPool Go1JoystickFlatTerrain envs (1,000
control steps of 20 ms at most, random joystick commands) per condition:

- nominal; motor stiffness kp x0.8 / x1.25 (35 nominal); joint damping kd x0.5 / x2 (0.5);
- sensor noise x2 (EnvPool's ``noise_level`` 2: joint positions, velocities, gyro, gravity);
- an action delay of 1 or 2 control steps (20 / 40 ms); Gaussian action noise of std 0.1.

EnvPool exposes no body masses or friction, so those are not varied here (``nfpo eval
--perturb`` does that for the gymnasium MuJoCo tasks). Per run and condition: the share of
episodes that reach the time limit (the robot did not fall), mean episode length, mean
lin./ang. velocity-tracking error over the episode's steps, and mean return. Writes
sim2sim.json and sim2sim.md beside this script.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import deque
from pathlib import Path

import numpy as np

from nfpo.deploy import Policy
from nfpo.envs.envpool_env import EnvPoolVecEnv
from nfpo.export import export_run

HERE = Path(__file__).parent
RUNS = [HERE / "long" / "go1-flow-flr03-s1", HERE / "long" / "go1-gaussian-s1"]
ENV = "Go1JoystickFlatTerrain-v1"
CONDITIONS: dict[str, tuple[dict, int, float]] = {  # name: (env config, delay, action noise)
    "nominal": ({}, 0, 0.0),
    "kp x0.8": ({"kp": 28.0}, 0, 0.0),
    "kp x1.25": ({"kp": 43.75}, 0, 0.0),
    "kd x0.5": ({"kd": 0.25}, 0, 0.0),
    "kd x2": ({"kd": 1.0}, 0, 0.0),
    "sensor noise x2": ({"noise_level": 2.0}, 0, 0.0),
    "delay 20 ms": ({}, 1, 0.0),
    "delay 40 ms": ({}, 2, 0.0),
    "action noise 0.1": ({}, 0, 0.1),
}


def episodes(policy: Policy, kwargs: dict, delay: int, noise: float, n: int, seed: int
             ) -> dict[str, float]:
    """One episode in each of ``n`` envs; means over the episodes."""
    env = EnvPoolVecEnv(ENV, n, kwargs, "", "", num_threads=1, seed=seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset()
    zero = np.zeros((n, policy.act_dim))
    queue = deque([zero] * delay)
    running = np.ones(n, bool)
    length, ret = np.zeros(n), np.zeros(n)
    errs = np.zeros((n, 2))
    survived = np.zeros(n, bool)
    while running.any():
        act = policy.act(obs[:, :policy.obs_dim].astype(np.float32)).astype(np.float64)
        if noise:
            act = act + noise * rng.standard_normal(act.shape)
        queue.append(act)
        obs, r, term, trunc, info = env.step(queue.popleft())
        idx = running
        length[idx] += 1
        ret[idx] += r[idx]
        errs[idx] += np.stack([info["lin_vel_error"], info["ang_vel_error"]], 1)[idx]
        ended = running & (term | trunc)
        survived |= ended & trunc
        running &= ~ended
    env.close()
    return {"survived": float(survived.mean()), "length": float(length.mean()),
            "lin_vel_error": float((errs[:, 0] / length).mean()),
            "ang_vel_error": float((errs[:, 1] / length).mean()),
            "return": float(ret.mean())}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=Path, nargs="+", default=RUNS)
    ap.add_argument("--envs", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    out: dict = {"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, "
                 f"{platform.processor() or 'cpu'}", "env": ENV, "envs": a.envs,
                 "seed": a.seed, "runs": {}}
    for run in a.runs:
        meta = export_run(run, "onnx", out=Path("/tmp") / f"sim2sim_{run.name}.onnx")
        policy = Policy.load(meta["path"])
        res = {"source_step": meta["source_step"], "max_abs_diff": meta["max_abs_diff"]}
        for name, (kwargs, delay, noise) in CONDITIONS.items():
            res[name] = episodes(policy, kwargs, delay, noise, a.envs, a.seed)
            print(run.name, name, {k: round(v, 3) for k, v in res[name].items()}, flush=True)
        out["runs"][run.name] = res
    (HERE / "sim2sim.json").write_text(json.dumps(out, indent=1))
    names = list(out["runs"])
    lines = ["# Sim-to-sim: exported ONNX Go1 policies under perturbations\n",
             f"`python benchmarks/legged/sim2sim.py --envs {a.envs} --seed {a.seed}`; "
             f"{out['date']}, {out['machine']}; {a.envs} episodes per cell (one per env), "
             "deterministic actions through `nfpo.deploy.Policy`. *Up*: episodes that reach the "
             "1,000-step time limit; errors are means over each episode's steps.\n",
             "| condition | " + " | ".join(f"{n}: up / length / lin. err / ang. err"
                                           for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for cond in CONDITIONS:
        cells = [out["runs"][n][cond] for n in names]
        lines.append(f"| {cond} | " + " | ".join(
            f"{c['survived']:.2f} / {c['length']:.0f} / {c['lin_vel_error']:.2f} / "
            f"{c['ang_vel_error']:.2f}" for c in cells) + " |")
    (HERE / "sim2sim.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
