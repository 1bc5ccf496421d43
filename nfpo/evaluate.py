"""Evaluate a trained run: episodes in a fresh env, deterministic or stochastic actions."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nfpo.agent import load_run
from nfpo.envs import env_spec, make_env, mode_coverage, parse_perturb
from nfpo.errors import ConfigError


def evaluate(run_dir: Path | str, episodes: int = 10, deterministic: bool = True,
             seed: int = 10_000, max_steps: int | None = None, perturb: str = ""
             ) -> dict[str, Any]:
    """Run ``episodes`` episodes; returns mean/std return, per-episode returns and lengths, and
    the mean over episodes of every numeric scalar the env reports in the final step's ``info``
    (keys ``info/<name>``). Tasks that report ``info["mode"]`` also get the per-episode modes,
    the fraction of episodes per mode and the mode coverage (``nfpo.envs.mode_coverage``).
    ``perturb``: a robustness spec (``nfpo.envs.perturb``)."""
    if episodes < 1:
        raise ConfigError(f"invalid episodes={episodes}: expected an integer >= 1")
    perturbation = parse_perturb(perturb)
    cfg, agent, _ = load_run(run_dir)
    env = make_env(cfg.env.id, cfg.env.kwargs(), perturbation)
    spec = env_spec(env, cfg.env.id)
    torch.manual_seed(seed)
    returns, lengths = [], []
    info_sums: dict[str, list[float]] = {}
    try:
        for ep in range(episodes):
            obs, _ = env.reset(seed=seed + ep)
            ret, n, done = 0.0, 0, False
            info: dict[str, Any] = {}
            while not done:
                obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32)).reshape(1, -1)
                a = agent.act(obs_t, deterministic=deterministic)[0].numpy()
                obs, r, term, trunc, info = env.step(spec.scale_action(a))
                ret += float(r)
                n += 1
                done = term or trunc or (max_steps is not None and n >= max_steps)
            returns.append(ret)
            lengths.append(n)
            for k, v in info.items():
                if isinstance(v, (int, float, bool, np.number, np.bool_)) and math.isfinite(v):
                    info_sums.setdefault(f"info/{k}", []).append(float(v))
    finally:
        env.close()
    out: dict[str, Any] = {
        "env": cfg.env.id, "policy": cfg.policy.kind,
        "mode": "deterministic" if deterministic else "stochastic",
        "episodes": episodes, "perturb": perturb,
        "mean_return": float(np.mean(returns)), "std_return": float(np.std(returns)),
        "mean_length": float(np.mean(lengths)),
        "returns": returns, "lengths": lengths,
    }
    out.update({k: float(np.mean(v)) for k, v in info_sums.items()})
    if "info/mode" in info_sums and "info/num_modes" in info_sums:  # multimodal tasks
        modes = np.asarray(info_sums["info/mode"], dtype=int)
        k = int(info_sums["info/num_modes"][0])
        out["modes"] = modes.tolist()
        out["mode_fractions"] = [float(np.mean(modes == m)) for m in range(k)]
        out["mode_coverage"] = mode_coverage(modes, k)
    return out
