"""The environment section of the config: which simulator and the data it produces."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import tyro

from nfpo.errors import ConfigError
from nfpo.validation import check as _check


@dataclass
class EnvConfig:
    """Environment and the data it produces."""

    id: Annotated[str, tyro.conf.arg(name="env")] = "Hopper-v5"
    """env id with a continuous (Box) action space (gymnasium, or EnvPool with --backend
    envpool, e.g. Go1JoystickFlatTerrain-v1)."""
    backend: Literal["gymnasium", "envpool"] = "gymnasium"
    """simulator: gymnasium (SyncVectorEnv) or envpool (C++ vectorized, 2-3x faster on
    MuJoCo; legged MuJoCo Playground tasks; ``pip install 'nfpo[envpool]'``)."""
    num_envs: int = 4
    """parallel environments."""
    env_kwargs: str = "{}"
    """JSON object of keyword arguments passed to ``gymnasium.make`` / ``envpool.make``."""
    env_import: tuple[str, ...] = ()
    """modules to import before the env is made, so that they register their gymnasium ids
    (e.g. ``--env-import my_pkg.envs --env MyEnv-v0``; ``--env my_pkg.envs:MyEnv-v0`` does the
    same for one module). Saved with the run, so eval and resume import them too."""
    obs_key: str = ""
    """dict observations (EnvPool Playground tasks): the key the actor reads (default: state)."""
    critic_obs_key: str = ""
    """dict observations: the key the critic reads, e.g. privileged_state (asymmetric
    actor-critic; default: the actor's)."""
    envpool_threads: int = 0
    """EnvPool worker threads (0: one per CPU core, at most num_envs)."""
    normalize_obs: bool = True
    """running mean/std observation normalization (saved with the policy, exported)."""
    scale_reward: bool = True
    """divide rewards by the running std of the discounted return."""
    clip_obs: float = 10.0
    clip_reward: float = 10.0
    nonfinite: Literal["stop", "drop-episode"] = "stop"
    """NaN/Inf in an observation or reward: stop the run (message names env and step), or
    reset that env and drop the episode from training statistics."""
    randomize: str = ""
    """robustness perturbations during training, e.g. "mass=0.8:1.2,obs_noise=0.05,delay=1"
    (keys: obs_noise, action_noise, delay, mass, friction, damping, gain; see nfpo.envs.perturb)."""

    def kwargs(self) -> dict[str, Any]:
        try:
            out = json.loads(self.env_kwargs)
        except json.JSONDecodeError as e:
            raise ConfigError(f"invalid env_kwargs={self.env_kwargs!r}: not JSON ({e})") from e
        _check(isinstance(out, dict), "env_kwargs", self.env_kwargs, "a JSON object")
        return out

    def validate(self) -> None:
        _check(self.num_envs >= 1, "num_envs", self.num_envs, "an integer >= 1")
        _check(self.clip_obs > 0, "clip_obs", self.clip_obs, "a number > 0")
        _check(self.clip_reward > 0, "clip_reward", self.clip_reward, "a number > 0")
        _check(self.envpool_threads >= 0, "envpool_threads", self.envpool_threads, ">= 0")
        self.kwargs()
        for m in self.env_import:
            _check(bool(m.strip()), "env_import", self.env_import, "module names")
        from nfpo.envs.perturb import parse_perturb

        parse_perturb(self.randomize)
