"""``nfpo/ForkReach-v0``: a MuJoCo point robot that must go around a wall, left or right.

The robot (a sphere on two slide joints, force-controlled, damped) starts at (0, 0) near the
origin; a wall segment (x = 0.5, |y| < 0.25) stands between it and the goal at (1, 0); the
arena is closed. Both ways around the wall are equally short: two homotopy classes.

    obs    = [x, y, vx, vy]; start: (0, 0) + U(-0.01, 0.01) noise
    action = forces in [-1, 1]^2 (frame skip 5: dt = 0.05 s), 100 steps
    reward = -||p - goal|| - 0.01 ||a||^2 per step, +10 and termination within 0.1 of the goal
    mode   = 0 if the robot crossed x = 0.5 above the wall (y > 0), 1 if below, -1 if never

The model is ``nfpo/envs/assets/fork_reach.xml`` (shipped with the package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.envs.mujoco import MujocoEnv
from gymnasium.spaces import Box

XML = Path(__file__).parent / "assets" / "fork_reach.xml"
GOAL = np.array([1.0, 0.0])
WALL_X = 0.5


class ForkReach(MujocoEnv):
    metadata = {"render_modes": ["human", "rgb_array", "depth_array", "rgbd_tuple"],
                "render_fps": 20}

    def __init__(self, goal_reward: float = 10.0, goal_radius: float = 0.1,
                 render_mode: str | None = None, width: int = 480, height: int = 480) -> None:
        self.goal_reward, self.goal_radius = goal_reward, goal_radius
        self.side = -1
        super().__init__(str(XML), 5, Box(-np.inf, np.inf, (4,), np.float64),
                         render_mode=render_mode, width=width, height=height,
                         default_camera_config={"lookat": np.array([0.5, 0.0, 0.0]),
                                                "distance": 2.4, "elevation": -90.0,
                                                "azimuth": 90.0})

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos, self.data.qvel]).astype(np.float64)

    def reset_model(self) -> np.ndarray:
        qpos = self.init_qpos + self.np_random.uniform(-0.01, 0.01, 2)
        self.set_state(qpos, np.zeros(2))
        self.side = -1
        return self._get_obs()

    def extra_state(self) -> dict[str, Any]:
        """State beyond MuJoCo's (saved by ``nfpo.envs.state`` for exact resume)."""
        return {"side": self.side}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.side = int(state["side"])

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        x_before = float(self.data.qpos[0])
        self.do_simulation(a, self.frame_skip)
        x, y = float(self.data.qpos[0]), float(self.data.qpos[1])
        if self.side < 0 and x_before < WALL_X <= x:
            self.side = 0 if y > 0 else 1
        dist = float(np.linalg.norm(np.array([x, y]) - GOAL))
        reached = dist < self.goal_radius
        reward = -dist - 0.01 * float(a @ a) + (self.goal_reward if reached else 0.0)
        info = {"mode": self.side, "num_modes": 2, "success": float(reached), "distance": dist}
        if self.render_mode == "human":
            self.render()
        return self._get_obs(), reward, reached, False, info
