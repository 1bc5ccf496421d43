"""SameStepVectorEnv returns what gymnasium's SyncVectorEnv (SAME_STEP) returns, bit for bit."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

import nfpo.registration  # noqa: F401  (registers nfpo/ ids)
from nfpo.envs import make_vec_env
from nfpo.envs.vector import SameStepVectorEnv


class InfoZoo(gym.Env):
    """Every kind of info entry: Python and numpy scalars, an array, a nested dict, a string;
    some keys only on some steps; episodes end by termination or truncation."""

    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {"start": True}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.t += 1
        u = float(self.np_random.uniform())
        info: dict[str, Any] = {"i": self.t, "f": u, "b": u > 0.5, "f32": np.float32(u),
                                "vec": np.full(3, u), "nested": {"x": u, "k": self.t},
                                "name": "zoo"}
        if self.t % 3 == 0:
            info["sometimes"] = 2.5
        obs = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return obs, u + float(action[0]), u < 0.05, self.t >= 7, info


def _same(a: Any, b: Any, where: str) -> None:
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), (where, a.keys(), b.keys())
        for k in a:
            _same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, np.ndarray) and a.dtype == object:
        assert b.dtype == object and len(a) == len(b), where
        for x, y in zip(a, b, strict=True):
            _same(x, y, where)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    else:
        assert type(a) is type(b) and a == b, where


@pytest.mark.parametrize("env_id,n", [("Hopper-v5", 1), ("Hopper-v5", 3),
                                      ("nfpo/ForkReach-v0", 2), ("zoo", 3)])
def test_step_matches_sync_vector_env(env_id: str, n: int) -> None:
    def fns() -> list:
        if env_id == "zoo":
            return [InfoZoo for _ in range(n)]
        return [lambda: gym.make(env_id) for _ in range(n)]

    ref = SyncVectorEnv(fns(), autoreset_mode=AutoresetMode.SAME_STEP)
    lean = SameStepVectorEnv(fns())
    _same(ref.reset(seed=3), lean.reset(seed=3), "reset")
    rng = np.random.default_rng(0)
    ends = 0
    for t in range(400):
        act = rng.uniform(-1, 1, ref.action_space.shape).astype(np.float32)
        r, s = ref.step(act), lean.step(act)
        _same(r, s, f"step {t}")
        ends += int(np.count_nonzero(r[2] | r[3]))
        assert s[0] is not lean._observations  # a copy, as SyncVectorEnv's deepcopy
    assert ends >= 5  # the comparison went through episode ends


def test_make_vec_env_uses_it_and_rejects_non_box() -> None:
    envs = make_vec_env("Pendulum-v1", 2)
    assert isinstance(envs, SameStepVectorEnv)
    envs.close()
    with pytest.raises(TypeError, match="Box"):
        SameStepVectorEnv([lambda: gym.make("CartPole-v1")])
