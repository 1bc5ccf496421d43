"""EnvPool backend (``--backend envpool``, ``pip install 'nfpo[envpool]'``): EnvPool's C++
vectorized simulators behind the same interface as the gymnasium path.

Semantics are made equal to ``make_vec_env``'s SyncVectorEnv in SAME_STEP autoreset mode:

- EnvPool auto-resets one step late (the step after an episode ends returns the reset
  observation with reward 0 and ignores the action). Here every env that ends is reset at once
  (``pool.reset(env_ids)``): ``step`` returns the reset observation, the final one goes to
  ``info["final_obs"]`` and the final step's info to ``info["final_info"]``, so no fake
  transition enters a rollout.
- Termination and truncation (time limit) stay separate; actions are float64.
- Dict observations (MuJoCo Playground tasks: ``state``, ``privileged_state``) are flattened
  into one array ``[actor | critic]``: the actor reads ``obs_key``, the critic
  ``critic_obs_key`` (asymmetric actor-critic). ``critic_dim`` is 0 when both read the same.
- EnvPool is seeded when the pool is made; ``reset(seed=s)`` with a new seed makes the pool
  again (an evaluation's later per-episode seeds are ignored: its episodes follow from the
  first seed).
"""

from __future__ import annotations

import difflib
import os
from typing import Any

import gymnasium as gym
import numpy as np

from nfpo.errors import EnvError

INSTALL_HINT = "pip install 'nfpo[envpool]' (EnvPool 1.2.5 is the newest release for Python 3.11)"


def _envpool() -> Any:
    try:
        import envpool
    except ImportError as e:
        raise EnvError(f"--backend envpool needs EnvPool: {INSTALL_HINT}") from e
    return envpool


def envpool_ids() -> list[str]:
    """Task ids EnvPool can make (MuJoCo, dm_control, MuJoCo Playground, Atari, ...)."""
    return list(_envpool().list_all_envs())


def check_envpool_id(env_id: str) -> None:
    """Raise ``EnvError`` listing similar EnvPool ids if ``env_id`` is not one."""
    ids = envpool_ids()
    if env_id in ids:
        return
    close = difflib.get_close_matches(env_id, ids, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise EnvError(f"unknown EnvPool task {env_id!r}.{hint} Continuous-control examples: "
                   "Hopper-v5, Ant-v5, Go1JoystickFlatTerrain-v1, G1JoystickFlatTerrain-v1 "
                   "(envpool.list_all_envs() lists all).")


class EnvPoolVecEnv:
    """``num_envs`` EnvPool envs with the interface nfpo's trainer uses from a gymnasium
    ``SyncVectorEnv`` (SAME_STEP autoreset). Observations are float64 ``[N, O + C]``."""

    def __init__(self, env_id: str, num_envs: int, env_kwargs: dict[str, Any] | None = None,
                 obs_key: str = "", critic_obs_key: str = "", num_threads: int = 0,
                 seed: int = 0) -> None:
        check_envpool_id(env_id)
        self.env_id, self.num_envs = env_id, num_envs
        self.kwargs = dict(env_kwargs or {})
        self.num_threads = min(num_envs, num_threads or (os.cpu_count() or 1))
        self.seed = seed
        self.pool = self._make(seed)
        space = self.pool.observation_space
        self.obs_key, self.critic_obs_key = _resolve_keys(env_id, space, obs_key,
                                                          critic_obs_key)
        dims = {k: int(np.prod(s.shape)) for k, s in getattr(space, "spaces", {}).items()}
        self.obs_dim = dims[self.obs_key] if self.obs_key else int(np.prod(space.shape))
        self.critic_dim = dims[self.critic_obs_key] if self.critic_obs_key else 0
        width = self.obs_dim + self.critic_dim
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (width,), np.float64)
        act = self.pool.action_space
        if not isinstance(act, gym.spaces.Box):
            raise EnvError(f"{env_id} has a {type(act).__name__} action space; nfpo trains "
                           "continuous-action policies and needs a Box action space.")
        self.single_action_space = act
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space,
                                                              num_envs)
        self.action_space = gym.vector.utils.batch_space(act, num_envs)
        self.config: dict[str, Any] = dict(self.pool.config)

    def _make(self, seed: int) -> Any:
        try:
            return _envpool().make(self.env_id, env_type="gymnasium", num_envs=self.num_envs,
                                   batch_size=self.num_envs, num_threads=self.num_threads,
                                   seed=int(seed), **self.kwargs)
        except TypeError as e:
            raise EnvError(f"bad env_kwargs {self.kwargs} for EnvPool task {self.env_id}: "
                           f"{e}") from e

    def _flat(self, obs: Any) -> np.ndarray:
        if not self.obs_key:
            return np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
        parts = [obs[self.obs_key]] + ([obs[self.critic_obs_key]] if self.critic_dim else [])
        n = len(parts[0])
        return np.concatenate([np.asarray(p, np.float64).reshape(n, -1) for p in parts], 1)

    def reset(self, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        if seed is not None and seed != self.seed:
            self.pool.close()
            self.seed, self.pool = seed, self._make(seed)
        obs, info = self.pool.reset()
        return self._flat(obs), info

    def reset_envs(self, ids: np.ndarray) -> np.ndarray:
        """Reset only the envs ``ids``; returns their observations ``[len(ids), O + C]``."""
        obs, _ = self.pool.reset(np.asarray(ids, dtype=np.int32))
        return self._flat(obs)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                 np.ndarray, dict[str, Any]]:
        obs, reward, term, trunc, info = self.pool.step(np.asarray(actions, np.float64))
        obs = self._flat(obs)
        err = tracking_errors(info, self.config)
        if err is not None:  # joystick tasks: velocity-tracking errors (m/s, rad/s)
            info["lin_vel_error"], info["ang_vel_error"] = err
        term, trunc = np.asarray(term, bool), np.asarray(trunc, bool) & ~np.asarray(term, bool)
        done = term | trunc
        if done.any():  # SAME_STEP: hand out the final obs, reset now (no fake step later)
            ids = np.flatnonzero(done)
            info["final_info"] = {k: v for k, v in info.items()
                                  if isinstance(v, np.ndarray) and len(v) == self.num_envs}
            info["_final_info"] = done.copy()
            final = np.empty(self.num_envs, dtype=object)
            final[ids] = list(obs[ids])
            info["final_obs"], info["_final_obs"] = final, done.copy()
            obs[ids] = self.reset_envs(ids)
        return obs, np.asarray(reward, np.float64), term, trunc, info

    def close(self) -> None:
        self.pool.close()


def _resolve_keys(env_id: str, space: gym.Space, obs_key: str, critic_obs_key: str
                  ) -> tuple[str, str]:
    """(actor key, critic key or "") for a Dict observation space; ("", "") for a Box."""
    if not isinstance(space, gym.spaces.Dict):
        if obs_key or critic_obs_key:
            raise EnvError(f"{env_id} has a flat observation; --obs-key/--critic-obs-key apply "
                           "only to dict observations")
        return "", ""
    keys = list(space.spaces)
    actor = obs_key or ("state" if "state" in keys else "")
    for name, key in (("obs_key", actor), ("critic_obs_key", critic_obs_key)):
        if (key or name == "obs_key") and key not in keys:
            raise EnvError(f"invalid {name}={key!r} for {env_id}: its observation is a dict "
                           f"with keys {keys}")
    return actor, "" if critic_obs_key == actor else critic_obs_key


class EnvPoolEnv(gym.Env):
    """One EnvPool env as a gymnasium ``Env`` (evaluation, rollouts). Only the actor's
    observation is returned."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None,
                 obs_key: str = "") -> None:
        self.vec = EnvPoolVecEnv(env_id, 1, env_kwargs, obs_key, "", num_threads=1)
        self.observation_space = self.vec.single_observation_space
        self.action_space = self.vec.single_action_space
        self.spec = None
        self._seeded = False  # EnvPool seeds once: only the first reset's seed is used
        self._errors: list[tuple[float, float]] = []

    def reset(self, *, seed: int | None = None, options: Any = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.vec.reset(seed=None if self._seeded else seed)
        self._seeded = True
        self._errors = []
        return obs[0], _unbatch(info)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, r, term, trunc, info = self.vec.step(np.asarray(action)[None])
        if term[0] or trunc[0]:  # the final step, as a single gymnasium env returns it
            obs = info["final_obs"][0][None]
        out = _unbatch(info)
        if "lin_vel_error" in out:  # joystick tasks: episode means so far (eval reports the last)
            self._errors.append((out["lin_vel_error"], out["ang_vel_error"]))
            out["lin_vel_error"], out["ang_vel_error"] = np.mean(self._errors, axis=0).tolist()
        return obs[0], float(r[0]), bool(term[0]), bool(trunc[0]), out

    def close(self) -> None:
        self.vec.close()


def tracking_errors(info: dict[str, Any], config: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-env (|v_xy - v_cmd_xy|, |w_z - w_cmd_z|) of a MuJoCo Playground joystick step,
    recovered from its tracking rewards r = scale * exp(-err^2 / sigma):
    err = sqrt(-sigma ln(r / scale)). None for tasks without those rewards."""
    try:
        sigma, s_lin, s_ang = (float(config[k]) for k in (
            "tracking_sigma", "tracking_lin_vel_scale", "tracking_ang_vel_scale"))
        r_lin = np.asarray(info["reward_tracking_lin_vel"]) / s_lin
        r_ang = np.asarray(info["reward_tracking_ang_vel"]) / s_ang
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    with np.errstate(divide="ignore"):
        return tuple(np.sqrt(np.maximum(0.0, -sigma * np.log(r))) for r in (r_lin, r_ang))


def _unbatch(info: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in info.items():
        if isinstance(v, np.ndarray) and v.ndim >= 1 and len(v) == 1 and not k.startswith("_"):
            out[k] = v[0].item() if v.ndim == 1 and v.dtype != object else v[0]
    return out
