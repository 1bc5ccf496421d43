"""``NfpoVecEnv``: an nfpo env (gymnasium or EnvPool backend) as an rsl_rl ``VecEnv``."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from rsl_rl.env import VecEnv
from tensordict import TensorDict

from nfpo.envs import env_spec, make_vec_env


class NfpoVecEnv(VecEnv):
    """``num_envs`` copies of ``env_id`` for rsl_rl's ``OnPolicyRunner``.

    Observation groups: ``"policy"`` (the actor's) and ``"critic"`` (the privileged
    observation with ``critic_obs_key``, else the actor's). Actions in [-1, 1] are clipped and
    mapped to the env's action box. Rewards are the env's (unscaled); ``extras["time_outs"]``
    marks truncations, which rsl_rl bootstraps. ``episode_returns`` collects the return of
    every finished episode (and ``extras["log"]["/episode_return"]`` their mean for rsl_rl's
    logger). Other arguments as ``nfpo.envs.make_vec_env``.
    """

    def __init__(self, env_id: str, num_envs: int, seed: int = 0, backend: str = "gymnasium",
                 obs_key: str = "", critic_obs_key: str = "", threads: int = 0,
                 env_kwargs: dict[str, Any] | None = None, device: str = "cpu") -> None:
        self.envs = make_vec_env(env_id, num_envs, env_kwargs, None, backend, obs_key,
                                 critic_obs_key, threads, seed)
        self.spec = env_spec(self.envs, env_id)
        self.num_envs, self.num_actions, self.device = num_envs, self.spec.act_dim, device
        sub = getattr(self.envs, "envs", [None])[0]
        limit = getattr(getattr(sub, "spec", None), "max_episode_steps", None)
        self.max_episode_length = int(limit or getattr(self.envs, "max_episode_steps", 1000))
        self.episode_length_buf = torch.zeros(num_envs, dtype=torch.long, device=device)
        self.episode_returns: list[float] = []
        self._running = np.zeros(num_envs)
        self.cfg = {"env_id": env_id, "num_envs": num_envs, "backend": backend, "seed": seed}
        obs, _ = self.envs.reset(seed=seed)
        self._obs = self._groups(obs)

    def _groups(self, obs: np.ndarray) -> TensorDict:
        actor, critic = self.spec.split(np.asarray(obs, dtype=np.float32))
        t = lambda x: torch.as_tensor(x, dtype=torch.float32, device=self.device)  # noqa: E731
        return TensorDict({"policy": t(actor), "critic": t(critic)}, batch_size=[self.num_envs],
                          device=self.device)

    def get_observations(self) -> TensorDict:
        return self._obs

    def step(self, actions: torch.Tensor) -> tuple[TensorDict, torch.Tensor, torch.Tensor, dict]:
        a = self.spec.scale_action(np.clip(actions.detach().cpu().numpy(), -1.0, 1.0))
        obs, reward, terminated, truncated, _ = self.envs.step(a)
        done = np.logical_or(terminated, truncated)
        self.episode_length_buf += 1
        self.episode_length_buf[torch.as_tensor(done, device=self.device)] = 0
        self._obs = self._groups(obs)
        self._running += reward
        extras: dict[str, Any] = {}
        if done.any():
            finished = self._running[done].tolist()
            self.episode_returns += finished
            self._running[done] = 0.0
            extras["log"] = {"/episode_return": float(np.mean(finished))}
        as_t = lambda x: torch.as_tensor(np.asarray(x), device=self.device)  # noqa: E731
        extras["time_outs"] = as_t(np.logical_and(truncated, np.logical_not(terminated)))
        return self._obs, as_t(reward).float(), as_t(done).long(), extras

    def close(self) -> None:
        self.envs.close()
