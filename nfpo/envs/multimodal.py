"""Tasks with several equally good actions per state, built to show what a Gaussian policy
cannot represent (registered as ``nfpo/...``; see also ``nfpo.envs.fork_reach``).

Every task reports, in the ``info`` of an episode's last step: ``mode`` (index of the mode /
goal the episode reached, -1 for none), ``num_modes`` and ``success`` (0/1), so that
``nfpo eval --json`` and the training logs can measure mode coverage.

``nfpo/BimodalBandit-v0`` (one step): obs = [1]; action a in [-1, 1]^2;
    reward = max_k exp(-||a - c_k||^2 / (2 w^2)), peaks c_k on a circle of radius 0.6
    (``num_modes`` = 2: (+-0.6, 0); 4: also (0, +-0.6)), width w = 0.15. Each peak is worth 1;
    the mean of two peaks is worth exp(-8) = 0.0003. mode = nearest peak if within 2 w.
    ``target = k``: only peak k pays (the fine-tuning task of
    ``benchmarks/multimodal/finetune.py``); success = landing on peak k.

``nfpo/MultiGoal-v0``: the 2-D point mass of Haarnoja et al. (2017, soft Q-learning), with
    constants chosen so that PPO learns it in ~100k steps. obs = position p (start ~ N(0,
    0.1^2 I)); action a in [-1, 1]^2; p <- clip(p + a, -7, 7); 4 goals at (+-5, 0), (0, +-5).
    reward = -0.1 ||a||^2 - 0.2 min_g ||p - g|| (+10 and termination within 1 of a goal);
    30 steps. mode = the goal reached. ``target = k``: only goal k pays and ends the episode
    (distance cost to goal k; the other goals are passed through), success = reaching goal k:
    the task for fine-tuning a multimodal policy to one goal picked after training.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

COVERAGE_SHARE = 0.10  # a mode counts as covered if it gets at least this share of episodes


def mode_coverage(modes: np.ndarray, num_modes: int, share: float = COVERAGE_SHARE) -> float:
    """Fraction of the ``num_modes`` modes that received >= ``share`` of the episodes
    (``modes``: per-episode mode index, -1 = none; episodes reaching no mode count in the
    denominator)."""
    modes = np.asarray(modes)
    if num_modes < 1 or len(modes) == 0:
        return float("nan")
    counts = np.bincount(modes[modes >= 0], minlength=num_modes)[:num_modes]
    return float(np.mean(counts / len(modes) >= share))


def _final_info(mode: int, num_modes: int, **extra: float) -> dict[str, Any]:
    return {"mode": mode, "num_modes": num_modes, "success": float(mode >= 0), **extra}


class BimodalBandit(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, num_modes: int = 2, radius: float = 0.6, width: float = 0.15,
                 target: int | None = None) -> None:
        if num_modes not in (2, 4):
            raise ValueError(f"num_modes={num_modes!r}: accepted values are 2 and 4")
        if target is not None and target not in range(num_modes):
            raise ValueError(f"target={target!r}: accepted values are None and 0..{num_modes - 1}")
        self.target = target
        angles = np.arange(num_modes) * (2 * np.pi / num_modes)
        self.peaks = radius * np.stack([np.cos(angles), np.sin(angles)], 1)  # [K, 2]
        self.width = width
        self.observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        return np.ones(1, np.float32), {}

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass

    def mode_of(self, actions: np.ndarray) -> np.ndarray:
        """Mode index of each action [..., 2] (-1 if no peak is within 2 w)."""
        d = np.linalg.norm(np.asarray(actions)[..., None, :] - self.peaks, axis=-1)
        k = d.argmin(-1)
        return np.where(d.min(-1) < 2 * self.width, k, -1)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        d2 = np.sum((a - self.peaks) ** 2, -1)
        paying = d2.min() if self.target is None else d2[self.target]
        reward = float(np.exp(-paying / (2 * self.width**2)))
        mode = int(self.mode_of(a))
        info = _final_info(mode, len(self.peaks))
        if self.target is not None:
            info["success"] = float(mode == self.target)
        return np.ones(1, np.float32), reward, True, False, info


class MultiGoal(gym.Env):
    metadata = {"render_modes": []}
    GOALS = np.array([[5.0, 0.0], [0.0, 5.0], [-5.0, 0.0], [0.0, -5.0]])

    def __init__(self, goal_radius: float = 1.0, action_cost: float = 0.1,
                 distance_cost: float = 0.2, goal_reward: float = 10.0,
                 target: int | None = None) -> None:
        if target is not None and target not in range(len(self.GOALS)):
            raise ValueError(f"target={target!r}: accepted values are None and "
                             f"0..{len(self.GOALS) - 1}")
        self.target = target
        self.goal_radius, self.goal_reward = goal_radius, goal_reward
        self.action_cost, self.distance_cost = action_cost, distance_cost
        self.observation_space = gym.spaces.Box(-7.0, 7.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.zeros(2)

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.pos = self.np_random.normal(0.0, 0.1, 2)
        return self.pos.astype(np.float32), {}

    def get_state(self) -> dict[str, Any]:
        return {"pos": self.pos.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.pos = np.asarray(state["pos"])

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.pos = np.clip(self.pos + a, -7.0, 7.0)
        dist = np.linalg.norm(self.GOALS - self.pos, axis=1)
        paying = dist.min() if self.target is None else dist[self.target]
        reward = -self.action_cost * float(a @ a) - self.distance_cost * float(paying)
        reached = bool(paying < self.goal_radius)
        if reached:
            reward += self.goal_reward
        mode = (int(dist.argmin()) if self.target is None else self.target) if reached else -1
        info = _final_info(mode, len(self.GOALS), x=float(self.pos[0]), y=float(self.pos[1]))
        return self.pos.astype(np.float32), reward, reached, False, info

