# ruff: noqa: E501  (CLEANRL_PATCHES quote CleanRL's lines verbatim)
"""nfpo's PPO (Gaussian, flow) against Stable-Baselines3's PPO and CleanRL's
``ppo_continuous_action.py`` on one workload, side by side in alternating rounds.

Every contender trains the same MuJoCo task with CleanRL's settings (rollout num_envs x 2048
steps, 32 minibatches, 10 epochs, lr 3e-4 annealed, 2x64 tanh networks, observation and reward
normalization, 1 torch thread). Each is timed from outside, as a subprocess, at two budgets
(N and 2N steps): the difference removes imports and start-up, so

    steady steps/s   = N / (wall(2N) - wall(N))
    CPU steps/s      = N / (cpu(2N) - cpu(N))        (user + system time of the child)

and the ratios come from rounds in which the contenders ran in turn (a different order each
round), on one machine. The return printed is the mean episode return of the last 10
training episodes of the 2N run (a sanity check at this small budget, not a learning result).

CleanRL is not on the package registry in a usable version: pass the path of
``cleanrl/ppo_continuous_action.py`` from a clone of https://github.com/vwxyzjn/cleanrl
(``--cleanrl PATH``; without it, CleanRL is left out and the table says so). Its script
targets gymnasium 0.29; ``patch_cleanrl`` applies three small edits to a temporary copy for
gymnasium 1.x (listed there) and fails loudly if the script has changed. Nothing of CleanRL is
stored in this repository.

    python benchmarks/peers/peers.py --cleanrl ~/cleanrl/cleanrl/ppo_continuous_action.py \
        --env Hopper-v5 --num-envs 1 --steps 8192 --rounds 2 --out benchmarks/peers/results_1env.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SB3_DRIVER = r"""
import sys, time, numpy as np, torch
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize, VecMonitor
env_id, n_envs, steps, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(1)
env = VecNormalize(make_vec_env(env_id, n_envs=n_envs, seed=seed), gamma=0.99, clip_obs=10.0,
                   clip_reward=10.0)
model = PPO("MlpPolicy", env, n_steps=2048, batch_size=2048 * n_envs // 32, n_epochs=10,
            learning_rate=lambda f: 3e-4 * f, gamma=0.99, gae_lambda=0.95, clip_range=0.2,
            ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, seed=seed, device="cpu",
            policy_kwargs=dict(net_arch=dict(pi=[64, 64], vf=[64, 64]),
                               activation_fn=torch.nn.Tanh))
model.learn(total_timesteps=steps)
rets = [e["r"] for e in model.ep_info_buffer][-10:]
print("RETURN", float(np.mean(rets)) if rets else float("nan"))
"""

# gymnasium 1.x edits to CleanRL's ppo_continuous_action.py (pattern, replacement)
CLEANRL_PATCHES = [
    # 1. TransformObservation needs the observation space since gymnasium 1.0
    ("env = gym.wrappers.TransformObservation(env, lambda obs: np.clip(obs, -10, 10))",
     "env = gym.wrappers.TransformObservation(env, lambda obs: np.clip(obs, -10, 10), "
     "env.observation_space)"),
    # 2. the final step's info arrives in the same step (gymnasium 0.29 behaviour)
    ("        [make_env(args.env_id, i, args.capture_video, run_name, args.gamma) "
     "for i in range(args.num_envs)]\n    )",
     "        [make_env(args.env_id, i, args.capture_video, run_name, args.gamma) "
     "for i in range(args.num_envs)],\n"
     "        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,\n    )"),
    # 3. final_info is a dict of arrays with an "_episode" mask since gymnasium 1.0
    ("""            if "final_info" in infos:
                for info in infos["final_info"]:
                    if info and "episode" in info:
                        print(f"global_step={global_step}, episodic_return={info['episode']['r']}")
                        writer.add_scalar("charts/episodic_return", info["episode"]["r"], global_step)
                        writer.add_scalar("charts/episodic_length", info["episode"]["l"], global_step)""",
     """            if "final_info" in infos and "episode" in infos["final_info"]:
                fi = infos["final_info"]
                for i in np.flatnonzero(fi["_episode"]):
                    print(f"global_step={global_step}, episodic_return={fi['episode']['r'][i]}")
                    writer.add_scalar("charts/episodic_return", fi["episode"]["r"][i], global_step)
                    writer.add_scalar("charts/episodic_length", fi["episode"]["l"][i], global_step)"""),
]


def patch_cleanrl(src: Path, dst_dir: Path) -> Path:
    """Copy CleanRL's script to ``dst_dir`` with ``CLEANRL_PATCHES`` applied; raise if a
    pattern is missing (a different version of the script)."""
    text = src.read_text()
    for i, (old, new) in enumerate(CLEANRL_PATCHES, 1):
        if old not in text:
            raise SystemExit(f"{src}: gymnasium-1.x patch {i} does not apply (pattern not "
                             f"found); this script was written against CleanRL commit "
                             f"fe8d8a0 (2026-04)")
        text = text.replace(old, new)
    dst = dst_dir / "cleanrl_ppo_continuous_action.py"
    dst.write_text(text)
    return dst


def command(name: str, env: str, num_envs: int, steps: int, seed: int, work: Path,
            cleanrl: Path | None) -> list[str]:
    py = sys.executable
    if name.startswith(("nfpo-", "ref-")):  # ref-*: the nfpo checkout given by --ref
        return [py, "-m", "nfpo", "train", "--env", env, "--policy", name.split("-")[1],
                "--num-envs", str(num_envs), "--num-steps", "2048", "--total-steps",
                str(steps), "--seed", str(seed), "--eval-episodes", "0", "--no-report",
                "--no-progress", "--torch-threads", "1", "--run-dir",
                str(work / f"{name}-{steps}"), "--overwrite",
                *(["--compile"] if name.endswith("-compile") else [])]
    if name == "sb3":
        return [py, "-c", SB3_DRIVER, env, str(num_envs), str(steps), str(seed)]
    assert name == "cleanrl" and cleanrl is not None
    return [py, str(cleanrl), "--env-id", env, "--num-envs", str(num_envs), "--total-timesteps",
            str(steps), "--seed", str(seed), "--no-cuda"]


def final_return(name: str, out: str, work: Path, steps: int) -> float:
    if name.startswith(("nfpo-", "ref-")):
        s = json.loads((work / f"{name}-{steps}" / "summary.json").read_text())
        return float(s["final_return_recent"] or "nan")
    if name == "sb3":
        m = re.findall(r"RETURN (\S+)", out)
        return float(m[-1]) if m else float("nan")
    rets = [float(x.strip("[]")) for x in re.findall(r"episodic_return=(\S+)", out)][-10:]
    return sum(rets) / len(rets) if rets else float("nan")


def timed(cmd: list[str], cwd: Path, pythonpath: str | None = None
          ) -> tuple[float, float, str]:
    """(wall s, child CPU s, stdout) of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed ({p.returncode}):\n{p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.stdout + p.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", default="Hopper-v5")
    ap.add_argument("--num-envs", type=int, default=1)
    ap.add_argument("--steps", type=int, default=8192, help="N (a multiple of 2048 x envs)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cleanrl", type=Path, default=None)
    ap.add_argument("--contenders", default="nfpo-gaussian,nfpo-flow,sb3,cleanrl",
                    help="comma-separated; also nfpo-gaussian-compile, nfpo-flow-compile "
                         "(nfpo with --compile)")
    ap.add_argument("--ref", type=Path, default=None,
                    help="another nfpo checkout (e.g. a git worktree of an older commit): adds "
                         "the contenders ref-gaussian and ref-flow, run from it")
    ap.add_argument("--out", type=Path, help="results JSON to write")
    ap.add_argument("--table", type=Path, help="print the table of a results JSON and exit")
    args = ap.parse_args()
    if args.table:
        print(table(json.loads(args.table.read_text())))
        return
    if not args.out:
        ap.error("--out is required to run the benchmark")
    names = [n for n in args.contenders.split(",") if n != "cleanrl" or args.cleanrl]
    if args.ref:
        names += ["ref-gaussian", "ref-flow"]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cleanrl = patch_cleanrl(args.cleanrl.expanduser(), work) if args.cleanrl else None
        for rnd in range(args.rounds):
            order = names[rnd % len(names):] + names[:rnd % len(names)]  # rotate each round
            for name in order:
                res = {}
                for steps in (args.steps, 2 * args.steps):
                    cmd = command(name, args.env, args.num_envs, steps, args.seed, work, cleanrl)
                    ref = str(args.ref.resolve()) if name.startswith("ref-") else None
                    res[steps] = timed(cmd, work, ref)
                (w1, c1, _), (w2, c2, out2) = res[args.steps], res[2 * args.steps]
                row = {"round": rnd, "contender": name,
                       "steady_steps_per_s": args.steps / (w2 - w1),
                       "cpu_steps_per_s": args.steps / (c2 - c1),
                       "wall_s": [w1, w2], "cpu_s": [c1, c2],
                       "return_last10": final_return(name, out2, work, 2 * args.steps)}
                rows.append(row)
                print(json.dumps(row), flush=True)
    meta = {"date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, "
            f"{os.cpu_count()} cores", "python": platform.python_version(),
            "command": "python " + " ".join(sys.argv), "env": args.env,
            "num_envs": args.num_envs, "steps": args.steps,
            "cleanrl": str(args.cleanrl) if args.cleanrl else "not given (left out)",
            "ref": (f"{args.ref} at " + subprocess.run(
                ["git", "-C", str(args.ref), "rev-parse", "--short", "HEAD"],
                capture_output=True, text=True).stdout.strip()) if args.ref else None}
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    print(table({"meta": meta, "rows": rows}))


def table(res: dict) -> str:
    """Markdown table: per contender, the median over rounds and the ratio to nfpo-gaussian
    computed per round (so a slow round slows every contender alike)."""
    import statistics as st

    rows, names = res["rows"], list(dict.fromkeys(r["contender"] for r in res["rows"]))
    by = {(r["round"], r["contender"]): r for r in rows}
    rounds = sorted({r["round"] for r in rows})
    out = ["| contender | steady steps/s | CPU steps/s | x nfpo-gaussian (steady) | "
           "x nfpo-gaussian (CPU) | return (last 10 ep.) |", "|---|---|---|---|---|---|"]
    for n in names:
        sp = [by[(k, n)]["steady_steps_per_s"] for k in rounds if (k, n) in by]
        cp = [by[(k, n)]["cpu_steps_per_s"] for k in rounds if (k, n) in by]
        rs = [by[(k, n)]["steady_steps_per_s"] / by[(k, "nfpo-gaussian")]["steady_steps_per_s"]
              for k in rounds if (k, n) in by and (k, "nfpo-gaussian") in by]
        rc = [by[(k, n)]["cpu_steps_per_s"] / by[(k, "nfpo-gaussian")]["cpu_steps_per_s"]
              for k in rounds if (k, n) in by and (k, "nfpo-gaussian") in by]
        ret = [by[(k, n)]["return_last10"] for k in rounds if (k, n) in by]
        fmt = lambda v: ", ".join(f"{x:.2f}" for x in v)  # noqa: E731
        out.append(f"| {n} | {st.median(sp):.0f} | {st.median(cp):.0f} | {fmt(rs)} | "
                   f"{fmt(rc)} | {st.median(ret):.1f} |")
    return "\n".join(out)


if __name__ == "__main__":
    main()
