"""Small, fast, dependency-free tasks for tests and tutorials (registered as ``nfpo/...``).

``nfpo/PointReach-v0``: a point in the plane must reach a random goal.
    obs    = [x, y, goal_x, goal_y]       (goal uniform in [-1, 1]^2, start at the origin)
    action = velocity in [-1, 1]^2;        p <- clip(p + 0.1 a, -1.5, 1.5)
    reward = -||p - goal||, 30 steps (truncation). A random policy scores about -30, the
    straight-line policy about -4; ``info["success"]`` is 1 if the final distance < 0.1.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class PointReach(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, step_size: float = 0.1) -> None:
        self.step_size = step_size
        self.observation_space = gym.spaces.Box(-2.0, 2.0, (4,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.zeros(2)
        self.goal = np.zeros(2)

    def _obs(self) -> np.ndarray:
        return np.concatenate([self.pos, self.goal]).astype(np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self.pos = np.zeros(2)
        self.goal = self.np_random.uniform(-1.0, 1.0, 2)
        return self._obs(), {}

    def get_state(self) -> dict[str, Any]:
        return {"pos": self.pos.tolist(), "goal": self.goal.tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.pos, self.goal = np.asarray(state["pos"]), np.asarray(state["goal"])

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self.pos = np.clip(self.pos + self.step_size * a, -1.5, 1.5)
        dist = float(np.linalg.norm(self.pos - self.goal))
        return self._obs(), -dist, False, False, {"distance": dist, "success": float(dist < 0.1)}

