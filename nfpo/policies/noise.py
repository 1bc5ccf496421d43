"""Temporally correlated base noise for rollouts (``--noise-correlation rho``).

A policy samples u = push(s, z) from standard-normal base noise z. By default every step draws
a fresh z. Here each env carries an AR(1) process over the steps of its episode:

    z_0 = e_0,    z_t = rho z_{t-1} + sqrt(1 - rho^2) e_t,    e_t ~ N(0, I_D) i.i.d.

Every z_t is exactly N(0, I_D), so u_t is an exact sample of pi(.|s_t) and its log-prob is the
policy's own: PPO's ratios and the entropy terms are unchanged. Only the *trajectory*
distribution changes: exploration persists over steps, as with gSDE or coloured noise.
rho = 1 draws one z per episode and holds it, so the policy acts as a family of deterministic
policies a = f(z; s) indexed by a latent drawn at reset; a flow can make that family
multimodal (z in different regions -> different goals), a Gaussian only shifts its mean by
sigma z. rho = 0 is i.i.d. sampling.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor


class CorrelatedNoise:
    """AR(1) standard-normal noise ``[num_envs, dim]`` per env (module docstring). ``next()``
    advances every env by one step; ``restart(done)`` makes the envs whose episode just ended
    draw a fresh z_0 at their next step. Draws use torch's global generator."""

    def __init__(self, num_envs: int, dim: int, rho: float) -> None:
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"invalid rho={rho!r}: expected a number in [0, 1]")
        self.rho, self.innovation = rho, math.sqrt(max(0.0, 1.0 - rho * rho))
        self.z = torch.zeros(num_envs, dim)
        self.fresh = np.ones(num_envs, dtype=bool)  # envs whose next z is a new z_0

    def next(self) -> Tensor:
        """z_t for every env, ``[num_envs, dim]`` float32."""
        e = torch.randn_like(self.z)
        z = self.rho * self.z + self.innovation * e
        fresh = torch.from_numpy(self.fresh)
        self.z = torch.where(fresh[:, None], e, z)
        self.fresh[:] = False
        return self.z

    def restart(self, done: np.ndarray) -> None:
        """Envs with ``done[i]`` start a new episode: their next z is a fresh draw."""
        self.fresh |= np.asarray(done, dtype=bool)

    def state_dict(self) -> dict[str, Any]:
        return {"z": self.z.tolist(), "fresh": self.fresh.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.z = torch.tensor(state["z"], dtype=torch.float32).reshape(self.z.shape)
        self.fresh = np.asarray(state["fresh"], dtype=bool)
