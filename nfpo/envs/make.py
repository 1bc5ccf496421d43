"""Create environments (single or vectorized) with clear errors, from gymnasium or EnvPool
(``backend``; see ``nfpo.envs.envpool_env``).

Gymnasium vector envs use ``SyncVectorEnv`` (measured faster than Async on 2 cores) in SAME_STEP
autoreset mode, with a leaner step of the same results (``nfpo.envs.vector``): when an episode
ends, ``step`` returns the reset observation and puts the final observation in
``info["final_obs"]`` so the trainer can bootstrap truncated episodes.
"""

from __future__ import annotations

import difflib
import importlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from nfpo.envs.perturb import PerturbConfig, apply_perturbations
from nfpo.envs.vector import SameStepVectorEnv
from nfpo.errors import EnvError


@dataclass(frozen=True)
class EnvSpec:
    """What a policy needs to know about an env: flat observation and Box action sizes.

    With an asymmetric critic the env's observation is ``[actor (obs_dim) | critic
    (critic_obs_dim)]``; ``critic_obs_dim`` = 0 means the critic reads the actor's."""

    id: str
    obs_dim: int
    act_dim: int
    action_low: np.ndarray
    action_high: np.ndarray
    critic_obs_dim: int = 0

    def split(self, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(actor observation ``[..., obs_dim]``, critic observation) of an env observation."""
        if not self.critic_obs_dim:
            return obs, obs
        return obs[..., :self.obs_dim], obs[..., self.obs_dim:]

    def scale_action(self, a: np.ndarray) -> np.ndarray:
        """Map a policy action in [-1, 1]^D to the env's Box [low, high] (float64)."""
        a = np.asarray(a, dtype=np.float64)
        return self.action_low + 0.5 * (a + 1.0) * (self.action_high - self.action_low)


def _one_line(e: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception on one line, at most ``limit`` characters."""
    text = " ".join(f"{type(e).__name__}: {e}".split()).rstrip(".")
    return text if len(text) <= limit else text[:limit - 3] + "..."


def import_env_modules(modules: Iterable[str]) -> None:
    """Import modules that register gymnasium ids (``--env-import``, ``--env MODULE:ID``)."""
    for m in modules:
        try:
            importlib.import_module(m)
        except Exception as e:  # ImportError, or an error inside the user's module
            raise EnvError(f"cannot import env module {m!r} (named by --env-import or --env "
                           f"MODULE:ID): {_one_line(e)}") from e


def split_env_id(env_id: str) -> str:
    """The registry id of ``env_id``; for gymnasium's ``MODULE:ID`` form the module is imported
    first (so that it registers ID) and ID is returned."""
    if ":" not in env_id:
        return env_id
    module, _, name = env_id.partition(":")
    if not module or not name:
        raise EnvError(f"invalid env id {env_id!r}: expected ID or MODULE:ID, e.g. "
                       "my_pkg.envs:MyEnv-v0")
    import_env_modules([module])
    return name


def _newest_versions(ids: Iterable[str]) -> list[str]:
    """Keep, of ids ``Name-vN``, only the newest registered version of each name (older
    versions such as Hopper-v2 may not build at all)."""
    newest: dict[str, int] = {}
    for i in gym.registry:
        m = re.fullmatch(r"(.*)-v(\d+)", i)
        if m:
            newest[m[1]] = max(newest.get(m[1], -1), int(m[2]))
    out = []
    for i in ids:
        m = re.fullmatch(r"(.*)-v(\d+)", i)
        if m is None or int(m[2]) == newest.get(m[1]):
            out.append(i)
    return out


def _check_id(env_id: str) -> None:
    if env_id in gym.registry:
        return
    close = difflib.get_close_matches(env_id, list(gym.registry.keys()), n=12, cutoff=0.5)
    close = _newest_versions(close)[:5]
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise EnvError(f"unknown env id {env_id!r}.{hint} Any registered gymnasium id with a Box "
                   "action space works, e.g. Hopper-v5, Walker2d-v5, HalfCheetah-v5, Ant-v5, "
                   "Humanoid-v5; a custom env: --env MODULE:ID or --env-import MODULE.")


def _probe(env: gym.Env, env_id: str, kwargs: dict[str, Any]) -> None:
    """One reset and one step with the middle action, so that bad env_kwargs (wrong types) or
    a broken env fail here with a clear message rather than deep inside training."""
    space = env.action_space
    try:
        env.reset(seed=0)
        env.step(((space.low + space.high) / 2).astype(space.dtype))
    except Exception as e:
        raise EnvError(f"{env_id} failed on its first reset/step with env_kwargs {kwargs}: "
                       f"{_one_line(e)} (NFPO_DEBUG=1 shows the traceback)") from e


BACKENDS = ("gymnasium", "envpool")


def _check_backend(backend: str, perturb: PerturbConfig | None) -> None:
    if backend not in BACKENDS:
        raise EnvError(f"invalid backend={backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "envpool" and perturb is not None and perturb.active:
        raise EnvError("robustness perturbations (--randomize/--perturb) are gymnasium "
                       "wrappers; use --backend gymnasium for them")


def make_env(env_id: str, env_kwargs: dict[str, Any] | None = None,
             perturb: PerturbConfig | None = None, backend: str = "gymnasium",
             obs_key: str = "", **extra: Any) -> gym.Env:
    """One env: ``gymnasium.make`` with nfpo's error messages, wrapped with ``perturb`` if
    given; or one EnvPool env (its actor observation ``obs_key`` for dict observations)."""
    _check_backend(backend, perturb)
    kwargs = {**(env_kwargs or {}), **extra}
    if backend == "envpool":
        from nfpo.envs.envpool_env import EnvPoolEnv

        return EnvPoolEnv(env_id, kwargs, obs_key)
    name = split_env_id(env_id)
    _check_id(name)
    try:
        env = gym.make(name, **kwargs)
    except gym.error.DependencyNotInstalled as e:
        raise EnvError(f"{env_id} needs a simulator that is not installed ({e}). For MuJoCo "
                       "tasks: pip install 'gymnasium[mujoco]'") from e
    except ImportError as e:
        newer = [i for i in _newest_versions(difflib.get_close_matches(name, list(
            gym.registry), n=12, cutoff=0.8)) if i != name]
        hint = f"; use {', '.join(newer[:3])}" if newer else ""
        raise EnvError(f"{env_id} cannot be built here ({_one_line(e)}){hint}") from e
    except (TypeError, ValueError) as e:
        raise EnvError(f"bad env_kwargs {kwargs} for {env_id}: {_one_line(e)}") from e
    if not isinstance(env.action_space, gym.spaces.Box):
        name = type(env.action_space).__name__
        env.close()
        raise EnvError(f"{env_id} has a {name} action space; nfpo trains continuous-action "
                       "policies and needs a Box action space.")
    if not isinstance(env.observation_space, gym.spaces.Box):
        env.close()
        raise EnvError(f"{env_id} has a {type(env.observation_space).__name__} observation "
                       "space; nfpo needs a flat Box observation space.")
    if perturb is not None and perturb.active:
        env = apply_perturbations(env, perturb)
    return env


def env_spec(env: gym.Env | gym.vector.VectorEnv, env_id: str) -> EnvSpec:
    """Observation/action sizes and action bounds of a single or vector env."""
    obs_space = getattr(env, "single_observation_space", env.observation_space)
    act_space = getattr(env, "single_action_space", env.action_space)
    low, high = act_space.low.astype(np.float64), act_space.high.astype(np.float64)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high))):
        raise EnvError(f"action space {act_space} is unbounded; nfpo needs finite bounds")
    critic = int(getattr(env, "critic_dim", 0))
    return EnvSpec(env_id, int(np.prod(obs_space.shape)) - critic,
                   int(np.prod(act_space.shape)), low, high, critic)


def make_vec_env(env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None,
                 perturb: PerturbConfig | None = None, backend: str = "gymnasium",
                 obs_key: str = "", critic_obs_key: str = "", threads: int = 0,
                 seed: int = 0) -> Any:
    """``num_envs`` copies in a ``SameStepVectorEnv`` (SyncVectorEnv, SAME_STEP autoreset), or
    an ``EnvPoolVecEnv`` with the same semantics (``threads``: EnvPool worker threads, 0 = one per
    core; ``seed``: EnvPool seeds at creation)."""
    _check_backend(backend, perturb)
    if backend == "envpool":
        from nfpo.envs.envpool_env import EnvPoolVecEnv

        return EnvPoolVecEnv(env_id, num_envs, env_kwargs, obs_key, critic_obs_key, threads,
                             seed)
    if obs_key or critic_obs_key:
        raise EnvError("--obs-key/--critic-obs-key select parts of dict observations of "
                       "EnvPool tasks; use them with --backend envpool")
    probe = make_env(env_id, env_kwargs, perturb)  # fail fast with a clear message
    try:
        _probe(probe, env_id, env_kwargs or {})
    finally:
        probe.close()
    fns = [lambda: make_env(env_id, env_kwargs, perturb) for _ in range(num_envs)]
    return SameStepVectorEnv(fns)


def reset_some(envs: Any, ids: np.ndarray) -> np.ndarray:
    """Reset only the sub-envs ``ids`` of a vector env; returns their observations."""
    if hasattr(envs, "reset_envs"):
        return envs.reset_envs(ids)
    return np.stack([envs.envs[i].reset()[0] for i in ids])


def random_action_rate(env_id: str, num_envs: int, steps: int, seed: int = 0,
                       backend: str = "gymnasium", threads: int = 0) -> float:
    """Raw simulator throughput: env steps/s of ``make_vec_env`` with random actions (no
    policy, no learning), the baseline that trainer overhead is measured against."""
    envs = make_vec_env(env_id, num_envs, backend=backend, threads=threads, seed=seed)
    envs.reset(seed=seed)
    envs.action_space.seed(seed)
    t = time.perf_counter()
    for _ in range(steps // num_envs):
        envs.step(envs.action_space.sample())
    rate = steps / (time.perf_counter() - t)
    envs.close()
    return rate
