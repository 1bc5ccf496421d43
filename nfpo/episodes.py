"""Statistics of finished training episodes: counts, recent returns, mode coverage and the
per-episode reward terms, logged once per update and saved with every checkpoint."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import numpy as np

from nfpo.envs import mode_coverage

RECENT_RETURNS = 20  # episode/return_recent: mean over the last 20 episodes
RECENT_MODES = 100  # mode coverage and success rate over the last 100 episodes


class EpisodeStats:
    """``add`` each finished episode, ``drop`` the ones left out (non-finite values), then
    ``metrics()`` once per update: the means over this update's episodes, the running
    ``return_recent``, counts, and for multimodal tasks (``info["mode"]``) coverage and success.
    ``state_dict`` holds everything that spans updates (so a resumed run logs the same)."""

    def __init__(self) -> None:
        self.episodes = 0
        self.dropped = 0
        self.recent_returns: deque[float] = deque(maxlen=RECENT_RETURNS)
        self.recent_modes: deque[tuple[int, float]] = deque(maxlen=RECENT_MODES)
        self.num_modes = 0
        self._ended: list[tuple[float, int, dict[str, float]]] = []  # this update's episodes

    def add(self, ret: float, length: int, terms: dict[str, float],
            mode: tuple[int, int, float] | None = None) -> None:
        """One finished episode: return, length, reward terms, and (mode index, number of
        modes, success) for multimodal tasks."""
        self._ended.append((ret, length, terms))
        if mode is not None:
            self.num_modes = mode[1]
            self.recent_modes.append((mode[0], mode[2]))

    def drop(self, n: int) -> None:
        self.dropped += n

    @property
    def recent_return(self) -> float:
        return float(np.mean(self.recent_returns)) if self.recent_returns else math.nan

    @property
    def pending(self) -> int:
        """Episodes finished since the last ``metrics()``."""
        return len(self._ended)

    def metrics(self) -> dict[str, float]:
        """Per-update ``episode/*`` metrics; clears this update's episodes."""
        ended, self._ended = self._ended, []
        self.episodes += len(ended)
        self.recent_returns.extend(r for r, _, _ in ended)
        out = {
            "episode/return": float(np.mean([r for r, _, _ in ended])) if ended else math.nan,
            "episode/length": float(np.mean([n for _, n, _ in ended])) if ended else math.nan,
            "episode/return_recent": self.recent_return,
            "episode/count": float(self.episodes),
            "episode/dropped": float(self.dropped),
        }
        if self.recent_modes:
            modes = np.array([m for m, _ in self.recent_modes])
            out["episode/mode_coverage"] = mode_coverage(modes, self.num_modes)
            out["episode/success_rate"] = float(np.mean([s for _, s in self.recent_modes]))
        terms = [t for _, _, t in ended]
        for k in sorted({k for t in terms for k in t}):  # reward terms and tracking errors
            out[f"episode/{k}"] = float(np.mean([t[k] for t in terms if k in t]))
        return out

    def summary(self) -> dict[str, Any]:
        """The run's episode totals for summary.json."""
        return {"episodes": self.episodes, "dropped_episodes": self.dropped,
                "final_return_recent": self.recent_return if self.recent_returns else None}

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": self.episodes, "dropped_episodes": self.dropped,
                "recent_returns": list(self.recent_returns),
                "recent_modes": [list(m) for m in self.recent_modes],
                "num_modes": self.num_modes}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes = state["episodes"]
        self.dropped = state.get("dropped_episodes", 0)  # older checkpoints did not save it
        self.recent_returns.extend(state["recent_returns"])
        self.recent_modes.extend(tuple(m) for m in state.get("recent_modes", []))
        self.num_modes = state.get("num_modes", 0)
