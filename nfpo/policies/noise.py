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

``HeldComponent`` is the discrete counterpart for a flow with a mixture base
(``--flow-base-mixture-hold``): each env draws a component k ~ w at the start of an episode and
keeps it, while the noise within the component stays i.i.d. Every step's sample is still an
exact draw of the mixture (k was drawn from w), so the log-prob is the marginal one; the episode
follows one lump of the policy, f(mu_k + s eps; s), instead of switching lumps at every step.
``make_noise`` picks the process a run's ``PolicyConfig`` asks for.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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

    def draw(self, device: torch.device | str = "cpu") -> dict[str, Tensor]:
        """``next()`` on ``device``, as the keyword ``Policy.sample`` takes."""
        return {"z": self.next().to(device)}

    def restart(self, done: np.ndarray) -> None:
        """Envs with ``done[i]`` start a new episode: their next z is a fresh draw."""
        self.fresh |= np.asarray(done, dtype=bool)

    def state_dict(self) -> dict[str, Any]:
        return {"z": self.z.tolist(), "fresh": self.fresh.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.z = torch.tensor(state["z"], dtype=torch.float32).reshape(self.z.shape)
        self.fresh = np.asarray(state["fresh"], dtype=bool)


class HeldComponent:
    """One mixture component per env, drawn from ``probs()`` (the weights ``[M]``) when its
    episode starts and held until it ends (module docstring). ``next()`` -> ``[num_envs]``
    long; ``draw()`` -> the keyword ``Policy.sample`` takes. Draws use torch's global
    generator."""

    def __init__(self, num_envs: int, probs: Callable[[], Tensor]) -> None:
        self.probs = probs
        self.k = torch.zeros(num_envs, dtype=torch.long)
        self.fresh = np.ones(num_envs, dtype=bool)

    def next(self) -> Tensor:
        if self.fresh.any():
            idx = torch.from_numpy(np.flatnonzero(self.fresh))
            self.k[idx] = torch.multinomial(self.probs().cpu(), len(idx), replacement=True)
            self.fresh[:] = False
        return self.k

    def draw(self, device: torch.device | str = "cpu") -> dict[str, Tensor]:
        return {"component": self.next().to(device)}

    def restart(self, done: np.ndarray) -> None:
        """Envs with ``done[i]`` draw a new component at their next step."""
        self.fresh |= np.asarray(done, dtype=bool)

    def state_dict(self) -> dict[str, Any]:
        return {"component": self.k.tolist(), "fresh": self.fresh.tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.k = torch.tensor(state["component"], dtype=torch.long)
        self.fresh = np.asarray(state["fresh"], dtype=bool)


def make_noise(policy_cfg: Any, num_envs: int, act_dim: int, policy: Any
               ) -> CorrelatedNoise | HeldComponent | None:
    """The exploration process of a run's ``PolicyConfig``: AR(1) base noise
    (``noise_correlation > 0``), a held mixture component (``flow_base_mixture_hold``), or
    None (i.i.d. draws)."""
    if policy_cfg is None:
        return None
    if policy_cfg.noise_correlation > 0:
        return CorrelatedNoise(num_envs, act_dim, policy_cfg.noise_correlation)
    if policy_cfg.holds_components:
        return HeldComponent(num_envs, policy.base_dist.probs)
    return None
