"""Evaluate a trained run: episodes in a fresh env, deterministic or stochastic actions,
optionally rendered to a video."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nfpo.agent import Agent, load_run
from nfpo.checkpoint import check_writable
from nfpo.envs import env_spec, make_env, mode_coverage, parse_perturb
from nfpo.errors import ConfigError
from nfpo.policies.noise import make_noise

StepHook = Callable[[Any, int, np.ndarray, bool], None]


def run_episodes(agent: Agent, env_id: str, env_kwargs: dict[str, Any], episodes: int,
                 deterministic: bool = True, seed: int = 10_000, max_steps: int | None = None,
                 perturb: Any = None, video: str | Path | None = None,
                 render: tuple[int, int] | None = None, on_step: StepHook | None = None,
                 backend: str = "gymnasium", obs_key: str = "",
                 policy_cfg: Any = None) -> dict[str, Any]:
    """Run ``episodes`` episodes of ``agent`` (seeds ``seed + i``); returns returns, lengths
    and the final-step ``info`` scalars per episode (``info/<name>`` lists).

    ``render``: (width, height) of an offscreen-rendering env (``nfpo.video.render_env``).
    ``video``: render every step at about 30 fps of simulated time into this .mp4 / .gif
    (default size 480x360); the frames are also returned (``frames``). ``on_step(env, n, obs,
    done)`` is called after each reset (n = 0) and each step (n = steps so far). Deterministic
    actions use no random numbers, so calling this during training leaves the RNG alone.
    ``backend``/``obs_key``: the simulator (``nfpo.envs.make_env``); rendering always uses the
    gymnasium env of the same id (EnvPool's MuJoCo tasks match it to ~1e-7).
    ``policy_cfg``: the run's ``PolicyConfig``; stochastic actions then use the exploration
    process it was trained with (AR(1) base noise, a held mixture component:
    ``nfpo.policies.noise``; None = i.i.d.)."""
    writer, stride = None, 1
    if video is not None or render is not None:
        from nfpo.video import VideoWriter, check_renderer, frame, frame_stride, render_env

        writer = VideoWriter(video) if video is not None else None  # checks the file type
        check_renderer()
        env = render_env(env_id, env_kwargs, *(render or (480, 360)), perturb)
        if writer is not None:
            stride, writer.fps = frame_stride(env)
    else:
        env = make_env(env_id, env_kwargs, perturb, backend, obs_key)
    spec = env_spec(env, env_id)
    device = next(agent.parameters()).device
    returns, lengths = [], []
    infos: dict[str, list[float]] = {}

    def after(n: int, obs: np.ndarray, done: bool) -> None:
        if writer is not None and (n % stride == 0 or done):
            writer.append(frame(env))
        if on_step is not None:
            on_step(env, n, obs, done)

    try:
        for ep in range(episodes):
            obs, _ = env.reset(seed=seed + ep)
            noise = None if deterministic else \
                make_noise(policy_cfg, 1, spec.act_dim, agent.policy)
            ret, n, done = 0.0, 0, False
            info: dict[str, Any] = {}
            after(0, obs, False)
            while not done:
                obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32),
                                        device=device).reshape(1, -1)
                kw = {} if noise is None else noise.draw(device)
                with torch.no_grad():
                    a = agent.act(obs_t, deterministic=deterministic, **kw)[0].cpu().numpy()
                obs, r, term, trunc, info = env.step(spec.scale_action(a))
                ret += float(r)
                n += 1
                done = term or trunc or (max_steps is not None and n >= max_steps)
                after(n, obs, done)
            returns.append(ret)
            lengths.append(n)
            for k, v in info.items():
                if isinstance(v, (int, float, bool, np.number, np.bool_)) and math.isfinite(v):
                    infos.setdefault(f"info/{k}", []).append(float(v))
    finally:
        env.close()
    out: dict[str, Any] = {"returns": returns, "lengths": lengths, "infos": infos}
    if writer is not None:
        out["video"], out["video_frames"] = str(writer.close()), len(writer.frames)
        out["frames"] = writer.frames
    return out


def periodic_eval(agent: Agent, cfg: Any) -> dict[str, float]:
    """The training loop's evaluation: ``cfg.run.eval_every_episodes`` deterministic episodes
    of ``agent`` in a fresh env (clean: no ``--randomize``). Deterministic actions use no
    random numbers, so training continues exactly as without it."""
    e = cfg.env
    res = run_episodes(agent, e.id, e.kwargs(), cfg.run.eval_every_episodes, True,
                       cfg.run.seed + 20_000, backend=e.backend, obs_key=e.obs_key)
    return {"eval/return": float(np.mean(res["returns"])),
            "eval/return_std": float(np.std(res["returns"])),
            "eval/length": float(np.mean(res["lengths"]))}


def record_clip(agent: Agent, cfg: Any, path: Path) -> np.ndarray:
    """The training loop's video: one deterministic episode (at most ``cfg.run.video_steps``
    steps) rendered at 320x240 to ``path`` (named on stderr with its return); returns its
    middle frame ``[H, W, 3]``. No RNG is used."""
    res = run_episodes(agent, cfg.env.id, cfg.env.kwargs(), 1, True, cfg.run.seed + 777,
                       cfg.run.video_steps, video=path, render=(320, 240))
    print(f"video: {path} (return {res['returns'][0]:.1f})", file=sys.stderr)
    return res["frames"][len(res["frames"]) // 2]


def evaluate(run_dir: Path | str, episodes: int = 10, deterministic: bool = True,
             seed: int = 10_000, max_steps: int | None = None, perturb: str = "",
             video: str | Path | None = None, checkpoint: int | str | None = None
             ) -> dict[str, Any]:
    """Evaluate a checkpoint of a run (``checkpoint``: None/``latest`` = the newest intact one,
    ``best``, or a step). Returns mean/std return, per-episode returns
    and lengths, and the mean over episodes of every numeric scalar the env reports in the
    final step's ``info`` (keys ``info/<name>``). Tasks that report ``info["mode"]`` also get
    the per-episode modes, the fraction of episodes per mode and the mode coverage
    (``nfpo.envs.mode_coverage``). ``perturb``: a robustness spec (``nfpo.envs.perturb``).
    ``video``: also write the episodes, rendered offscreen, to this .mp4 or .gif."""
    if episodes < 1:
        raise ConfigError(f"invalid episodes={episodes}: expected an integer >= 1")
    perturbation = parse_perturb(perturb)
    if video is not None:
        from nfpo.video import VideoWriter

        VideoWriter(video)  # checks the file type
        check_writable(video, "video")
    cfg, agent, state = load_run(run_dir, checkpoint)
    torch.manual_seed(seed)
    res = run_episodes(agent, cfg.env.id, cfg.env.kwargs(), episodes, deterministic, seed,
                       max_steps, perturbation, video, backend=cfg.env.backend,
                       obs_key=cfg.env.obs_key,
                       policy_cfg=cfg.policy)
    returns, infos = res["returns"], res["infos"]
    out: dict[str, Any] = {
        "env": cfg.env.id, "policy": cfg.policy.kind,
        "mode": "deterministic" if deterministic else "stochastic",
        "episodes": episodes, "perturb": perturb, "checkpoint_step": state.get("global_step"),
        "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
        "mean_length": float(np.mean(res["lengths"])),
        "returns": returns, "lengths": res["lengths"],
    }
    out.update({k: float(np.mean(v)) for k, v in infos.items()})
    if "info/mode" in infos and "info/num_modes" in infos:  # multimodal tasks
        modes = np.asarray(infos["info/mode"], dtype=int)
        k = int(infos["info/num_modes"][0])
        out["modes"] = modes.tolist()
        out["mode_fractions"] = [float(np.mean(modes == m)) for m in range(k)]
        out["mode_coverage"] = mode_coverage(modes, k)
    if "video" in res:
        out["video"], out["video_frames"] = res["video"], res["video_frames"]
    return out
