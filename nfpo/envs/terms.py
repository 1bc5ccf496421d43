"""Per-episode statistics of the reward terms and tracking errors an env reports in ``info``."""

from __future__ import annotations

from typing import Any

import numpy as np


class EpisodeTerms:
    """Per-env running episode statistics of what the env reports in ``info`` each step:
    the sum of every ``reward_*`` term (gymnasium MuJoCo: reward_forward, reward_ctrl, ...;
    MuJoCo Playground: reward_tracking_lin_vel, ...) and the mean of every ``*_error``
    (velocity-tracking errors). For an env whose episode ended this step the values come from
    ``info["final_info"]`` (SAME_STEP autoreset puts the reset's info in ``info``)."""

    def __init__(self, num_envs: int) -> None:
        self.n = num_envs
        self.sums: dict[str, np.ndarray] = {}
        self.steps = np.zeros(num_envs)

    def _values(self, info: dict[str, Any], key: str, done: np.ndarray,
                any_done: bool) -> np.ndarray | None:
        v, mask = info.get(key), info.get("_" + key)
        if not isinstance(v, np.ndarray) or v.shape != (self.n,) or v.dtype.kind not in "fiub":
            return None
        v = np.where(mask, v, 0.0) if mask is not None else v.astype(np.float64)
        if not any_done:
            return v
        final = info.get("final_info", {})
        f = final.get(key) if isinstance(final, dict) else None
        if isinstance(f, np.ndarray) and f.shape == (self.n,):
            fmask = final.get(f"_{key}", done)
            v = np.where(done & fmask, f, v)
        return v

    def add(self, info: dict[str, Any], done: np.ndarray) -> None:
        keys = {k for k in info if k.startswith("reward_") or k.endswith("_error")}
        final = info.get("final_info", {})
        if isinstance(final, dict):
            keys |= {k for k in final if k.startswith("reward_") or k.endswith("_error")}
        if not keys:
            return
        self.steps += 1
        any_done = bool(np.logical_or.reduce(done))
        for k in keys:
            v = self._values(info, k, done, any_done)
            if v is not None:
                if k not in self.sums:
                    self.sums[k] = np.zeros(self.n)
                self.sums[k] += v

    def pop(self, i: int) -> dict[str, float]:
        """Env ``i``'s finished episode: {term: sum} and {error: mean}; then resets env i."""
        n = max(self.steps[i], 1.0)
        out = {k: float(s[i] / n if k.endswith("_error") else s[i]) for k, s in self.sums.items()}
        for s in self.sums.values():
            s[i] = 0.0
        self.steps[i] = 0.0
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"sums": {k: v.tolist() for k, v in self.sums.items()},
                "steps": self.steps.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sums = {k: np.asarray(v, dtype=np.float64) for k, v in state["sums"].items()}
        self.steps = np.asarray(state["steps"], dtype=np.float64)
