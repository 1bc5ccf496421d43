"""Exact save/restore of an environment's state (for bit-identical resume), as JSON.

Supported: gymnasium MuJoCo envs (``mj_getState`` with mjSTATE_INTEGRATION, which includes
the solver warm start, plus the env's ``np_random``), envs that define
``get_state() -> dict`` / ``set_state(dict)``, and the wrappers nfpo uses (TimeLimit,
OrderEnforcing, PassiveEnvChecker, the robustness wrappers). Anything else raises
``UnsupportedEnvState``; the trainer then resumes from a fresh reset and says so.
JSON floats round-trip exactly (``repr``), so no precision is lost.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from nfpo.envs import perturb


class UnsupportedEnvState(Exception):
    """The env (or a wrapper) has state nfpo does not know how to save."""


_STATELESS = (gym.wrappers.PassiveEnvChecker,)


def _rng_state(rng: np.random.Generator) -> dict:
    return rng.bit_generator.state


def _set_rng(rng: np.random.Generator, state: dict) -> None:
    rng.bit_generator.state = state


def _core_state(env: gym.Env) -> dict[str, Any]:
    if hasattr(env, "get_state") and hasattr(env, "set_state"):
        return {"custom": env.get_state(), "np_random": _rng_state(env.np_random)}
    model, data = getattr(env, "model", None), getattr(env, "data", None)
    if model is not None and data is not None and hasattr(data, "qpos"):
        import mujoco

        sig = mujoco.mjtState.mjSTATE_INTEGRATION
        buf = np.empty(mujoco.mj_stateSize(model, sig))
        mujoco.mj_getState(model, data, buf, sig)
        out = {"mujoco": buf.tolist(), "np_random": _rng_state(env.np_random)}
        if hasattr(env, "extra_state"):  # task variables beyond MuJoCo's state
            out["extra"] = env.extra_state()
        return out
    raise UnsupportedEnvState(f"{type(env).__name__} has no get_state/set_state and is not a "
                              "MuJoCo env")


def _set_core_state(env: gym.Env, state: dict[str, Any]) -> None:
    if "custom" in state:
        env.set_state(state["custom"])
    else:
        import mujoco

        mujoco.mj_setState(env.model, env.data, np.asarray(state["mujoco"]),
                           mujoco.mjtState.mjSTATE_INTEGRATION)
        if "extra" in state:
            env.set_extra_state(state["extra"])
    _set_rng(env.np_random, state["np_random"])


def _layer_state(w: gym.Env) -> dict[str, Any]:
    if isinstance(w, gym.wrappers.TimeLimit):
        return {"elapsed": w._elapsed_steps}
    if isinstance(w, gym.wrappers.OrderEnforcing):
        return {"has_reset": w._has_reset}
    if isinstance(w, perturb.ActionDelay):
        return {"queue": [q.tolist() for q in w.queue]}
    if isinstance(w, perturb.DynamicsRandomization):
        return {"rng": _rng_state(w.rng), "factors": {k: v.tolist() for k, v in w.factors.items()}}
    if isinstance(w, perturb._Seeded):
        return {"rng": _rng_state(w.rng)}
    if isinstance(w, _STATELESS):
        return {}
    raise UnsupportedEnvState(f"wrapper {type(w).__name__} has unknown state")


def _set_layer_state(w: gym.Env, s: dict[str, Any]) -> None:
    if isinstance(w, gym.wrappers.TimeLimit):
        w._elapsed_steps = s["elapsed"]
    elif isinstance(w, gym.wrappers.OrderEnforcing):
        w._has_reset = s["has_reset"]
    elif isinstance(w, perturb.ActionDelay):
        w.queue = [np.asarray(q, dtype=np.float64) for q in s["queue"]]
    elif isinstance(w, perturb._Seeded):
        _set_rng(w.rng, s["rng"])
        if isinstance(w, perturb.DynamicsRandomization):
            w.apply({k: np.asarray(v) for k, v in s["factors"].items()})


def get_env_state(env: gym.Env) -> dict[str, Any]:
    """JSON-able state of a (wrapped) single env."""
    layers = []
    w = env
    while isinstance(w, gym.Wrapper):
        layers.append(_layer_state(w))
        w = w.env
    return {"layers": layers, "core": _core_state(w)}


def set_env_state(env: gym.Env, state: dict[str, Any]) -> None:
    """Restore what ``get_env_state`` saved (the env must be built the same way)."""
    w, i = env, 0
    while isinstance(w, gym.Wrapper):
        _set_layer_state(w, state["layers"][i])
        w, i = w.env, i + 1
    _set_core_state(w, state["core"])
