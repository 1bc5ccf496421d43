"""Sim-to-real robustness wrappers and their one-line spec.

A spec is a comma-separated list of ``key=value`` (``nfpo train --randomize SPEC`` for
training, ``nfpo eval --perturb SPEC`` for evaluation):

    obs_noise=0.05        Gaussian noise added to every observation (std, observation units)
    action_noise=0.1      Gaussian noise added to the action (std, fraction of half the range)
    delay=2               the env executes the action chosen k steps earlier
    mass=0.8:1.2          per-episode, per-body scale of MuJoCo body masses (and inertias)
    friction=0.5:1.5      ... of geom sliding friction
    damping=0.8:1.2       ... of joint (dof) damping
    gain=0.9:1.1          ... of actuator gains (gainprm[:, 0]; biasprm[:, 1:3] scaled alike)

Each wrapper has its own RNG, seeded from the ``reset(seed=...)`` seed.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np

from nfpo.errors import ConfigError, EnvError

_RANGES = ("mass", "friction", "damping", "gain")


@dataclass(frozen=True)
class PerturbConfig:
    obs_noise: float = 0.0
    action_noise: float = 0.0
    delay: int = 0
    mass: tuple[float, float] = (1.0, 1.0)
    friction: tuple[float, float] = (1.0, 1.0)
    damping: tuple[float, float] = (1.0, 1.0)
    gain: tuple[float, float] = (1.0, 1.0)

    @property
    def active(self) -> bool:
        return self != PerturbConfig()

    @property
    def dynamics(self) -> bool:
        return any(getattr(self, k) != (1.0, 1.0) for k in _RANGES)


def parse_perturb(spec: str) -> PerturbConfig:
    """Parse ``"obs_noise=0.05,mass=0.8:1.2"``; errors name the bad item and the accepted keys."""
    keys = [f.name for f in fields(PerturbConfig)]
    values: dict[str, Any] = {}
    for item in filter(None, (s.strip() for s in spec.split(","))):
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or key not in keys:
            raise ConfigError(f"invalid perturbation {item!r}: expected key=value with key one "
                              f"of {', '.join(keys)}")
        try:
            if key in _RANGES:
                lo, _, hi = raw.partition(":")
                lo_f, hi_f = float(lo), float(hi or lo)
                if not 0 < lo_f <= hi_f:
                    raise ValueError
                values[key] = (lo_f, hi_f)
            elif key == "delay":
                values[key] = int(raw)
                if values[key] < 0:
                    raise ValueError
            else:
                values[key] = float(raw)
                if not values[key] >= 0:
                    raise ValueError
        except ValueError:
            accepted = "LOW:HIGH with 0 < LOW <= HIGH" if key in _RANGES else \
                "an integer >= 0" if key == "delay" else "a number >= 0"
            raise ConfigError(f"invalid perturbation {item!r}: expected {accepted}") from None
    return PerturbConfig(**values)


class _Seeded(gym.Wrapper):
    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.rng = np.random.default_rng()

    def _reseed(self, seed: int | None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng([seed, 1_000_003 + id(type(self)) % 1000])


class ObservationNoise(_Seeded):
    """obs + N(0, std^2)."""

    def __init__(self, env: gym.Env, std: float) -> None:
        super().__init__(env)
        self.std = std

    def _noisy(self, obs: np.ndarray) -> np.ndarray:
        return (obs + self.rng.normal(0.0, self.std, np.shape(obs))).astype(np.asarray(obs).dtype)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._reseed(seed)
        obs, info = self.env.reset(seed=seed, options=options)
        return self._noisy(obs), info

    def step(self, action):
        obs, r, term, trunc, info = self.env.step(action)
        return self._noisy(obs), r, term, trunc, info


class ActionNoise(_Seeded):
    """a + N(0, (std * (high - low) / 2)^2), clipped to the action box."""

    def __init__(self, env: gym.Env, std: float) -> None:
        super().__init__(env)
        space = env.action_space
        self.low, self.high = space.low.astype(np.float64), space.high.astype(np.float64)
        self.scale = std * (self.high - self.low) / 2.0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._reseed(seed)
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        noisy = np.asarray(action, dtype=np.float64) + self.rng.normal(0.0, 1.0, self.low.shape) \
            * self.scale
        return self.env.step(np.clip(noisy, self.low, self.high))


class ActionDelay(gym.Wrapper):
    """Executes the action chosen ``k`` steps earlier (the mid-range action before that)."""

    def __init__(self, env: gym.Env, k: int) -> None:
        super().__init__(env)
        self.k = k
        space = env.action_space
        self.neutral = ((space.low + space.high) / 2.0).astype(np.float64)
        self.queue: list[np.ndarray] = []

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.queue = [self.neutral.copy() for _ in range(self.k)]
        return self.env.reset(seed=seed, options=options)

    def step(self, action):
        self.queue.append(np.asarray(action, dtype=np.float64).copy())
        return self.env.step(self.queue.pop(0))


class DynamicsRandomization(_Seeded):
    """Per episode, scales MuJoCo model parameters element-wise by factors ~ U(low, high)
    relative to their nominal values (read once when wrapped)."""

    def __init__(self, env: gym.Env, cfg: PerturbConfig) -> None:
        super().__init__(env)
        model = getattr(env.unwrapped, "model", None)
        if model is None or not hasattr(model, "body_mass"):
            raise EnvError(f"dynamics randomization needs a MuJoCo env; "
                           f"{env.spec.id if env.spec else env} has no MuJoCo model")
        self.model, self.cfg = model, cfg
        self.nominal = {
            "mass": model.body_mass.copy(), "inertia": model.body_inertia.copy(),
            "friction": model.geom_friction[:, 0].copy(),
            "damping": model.dof_damping.copy(), "gain": model.actuator_gainprm[:, 0].copy(),
            "bias": model.actuator_biasprm[:, 1:3].copy(),
        }
        self.factors: dict[str, np.ndarray] = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self._reseed(seed)
        self.apply({k: self.rng.uniform(*getattr(self.cfg, k), self.nominal[k].shape)
                    for k in _RANGES})
        return self.env.reset(seed=seed, options=options)

    def apply(self, f: dict[str, np.ndarray]) -> None:
        """Set the model parameters to nominal * factors."""
        m, nom = self.model, self.nominal
        m.body_mass[:] = nom["mass"] * f["mass"]
        m.body_inertia[:] = nom["inertia"] * f["mass"][:, None]  # same density change
        m.geom_friction[:, 0] = nom["friction"] * f["friction"]
        m.dof_damping[:] = nom["damping"] * f["damping"]
        m.actuator_gainprm[:, 0] = nom["gain"] * f["gain"]
        m.actuator_biasprm[:, 1:3] = nom["bias"] * f["gain"][:, None]
        self.factors = f


def apply_perturbations(env: gym.Env, cfg: PerturbConfig) -> gym.Env:
    """Wrap ``env``: dynamics (innermost), action delay, action noise, observation noise."""
    if cfg.dynamics:
        env = DynamicsRandomization(env, cfg)
    if cfg.delay > 0:
        env = ActionDelay(env, cfg.delay)
    if cfg.action_noise > 0:
        env = ActionNoise(env, cfg.action_noise)
    if cfg.obs_noise > 0:
        env = ObservationNoise(env, cfg.obs_noise)
    return env
