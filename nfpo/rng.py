"""Seeding and the global RNG states a checkpoint carries (numpy and Python), as JSON-able
lists: ``capture()`` -> dict, ``restore(dict)``. torch's generators travel as tensors:
``capture_torch(generator)`` -> dict of tensors, ``restore_torch(tensors, generator)``."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def capture() -> dict[str, Any]:
    """The numpy and Python global RNG states (``rng_numpy``, ``rng_python``)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {"rng_numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
            "rng_python": [version, list(internal), gauss]}


def restore(state: dict[str, Any]) -> None:
    """Inverse of ``capture`` (takes a dict holding its two keys)."""
    n = state["rng_numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    p = state["rng_python"]
    random.setstate((p[0], tuple(p[1]), p[2]))


def capture_torch(generator: torch.Generator) -> dict[str, torch.Tensor]:
    """torch's global RNG state and ``generator``'s (``rng.torch``, ``rng.generator``)."""
    return {"rng.torch": torch.get_rng_state(), "rng.generator": generator.get_state()}


def restore_torch(tensors: dict[str, torch.Tensor], generator: torch.Generator) -> None:
    """Inverse of ``capture_torch`` (takes a dict holding its two keys)."""
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.generator"])
