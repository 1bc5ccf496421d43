"""NaN/Inf in what an environment returns: stop the run, or drop the episode
(``--nonfinite stop|drop-episode``)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from nfpo.envs.make import reset_some
from nfpo.errors import DivergenceError

PATIENCE = 3  # updates in a row whose every ended episode was dropped: the env is broken


class NonFiniteFilter:
    """``check`` every vector-env step; ``end_update`` once per update.

    ``stop``: the first NaN/Inf observation or reward raises ``DivergenceError`` naming the env
    and the step. ``drop-episode``: that env is reset, its episode ends there (reward 0, no
    bootstrap) and is left out of the statistics; one warning line per update; once every
    episode that ended in ``PATIENCE`` updates in a row was dropped, ``DivergenceError``.
    ``where()`` returns the text that says where the last good checkpoint is."""

    def __init__(self, mode: str, envs: Any, where: Callable[[], str]) -> None:
        self.mode, self.envs, self.where = mode, envs, where
        self._now: dict[str, int] = {}  # dropped this update, by what was non-finite
        self._all_dropped = 0  # updates in a row in which every ended episode was dropped

    def check(self, obs: np.ndarray, reward: np.ndarray, term: np.ndarray, trunc: np.ndarray,
              step: int, update: int) -> np.ndarray:
        """Modifies the arrays in place (drop mode); returns the mask of dropped envs."""
        # (logical_and.reduce: ndarray.all's result without its Python-level wrapper)
        bad_obs = ~np.logical_and.reduce(np.isfinite(obs.reshape(obs.shape[0], -1)), axis=1)
        bad = bad_obs | ~np.isfinite(reward)
        if not bad.any():
            return bad
        i = int(np.flatnonzero(bad)[0])
        what = "observation" if bad_obs[i] else "reward"
        if self.mode == "stop":
            raise DivergenceError(
                f"non-finite {what} from env {i} at step {step} (update {update}); "
                f"{self.where()}. To drop such episodes instead: --nonfinite drop-episode")
        ids = np.flatnonzero(bad)
        obs[ids] = reset_some(self.envs, ids)
        reward[ids], term[ids], trunc[ids] = 0.0, True, False
        self._now[what] = self._now.get(what, 0) + len(ids)
        return bad

    def end_update(self, update: int, kept: int, dropped_total: int) -> None:
        """``kept``: episodes that ended normally in this update; ``dropped_total``: episodes
        dropped in the run so far (for the message; the episode statistics keep the count)."""
        dropped, self._now = self._now, {}
        if not dropped:
            self._all_dropped = 0
            return
        what = ", ".join(f"{n} with a non-finite {k}" for k, n in sorted(dropped.items()))
        print(f"warning: update {update}: dropped episodes ({what}); {kept} kept",
              file=sys.stderr)
        self._all_dropped = self._all_dropped + 1 if kept == 0 else 0
        if self._all_dropped >= PATIENCE:
            raise DivergenceError(
                f"every episode of the last {PATIENCE} updates had a non-finite observation "
                f"or reward ({dropped_total} dropped in all): the environment "
                f"keeps producing NaN/Inf; {self.where()}")
