"""Divergence guard: bounds on logged metrics, and finite parameters, that stop a run (a leaf
module: torch and errors only)."""

from __future__ import annotations

import re

import torch

from nfpo.errors import ConfigError, DivergenceError

_BOUND = re.compile(r"^\s*([\w/.\-]+)\s*([<>])\s*([-+0-9.eE]+|inf|-inf)\s*$")


class DivergenceGuard:
    """Bounds on logged metrics, e.g. ``"policy/log_ratio_min>-20,flow/logdet_max<30"``.

    ``check(metrics, update)`` raises ``DivergenceError`` naming the first metric that is NaN
    or outside its bound. An empty spec only checks nothing (NaN/Inf in losses, gradients and
    parameters are always fatal elsewhere)."""

    def __init__(self, spec: str = "") -> None:
        self.bounds: list[tuple[str, str, float]] = []
        for item in filter(None, (s.strip() for s in spec.split(","))):
            m = _BOUND.match(item)
            if not m:
                raise ConfigError(f"invalid guard bound {item!r}: expected METRIC<VALUE or "
                                  "METRIC>VALUE, e.g. policy/log_ratio_min>-20")
            self.bounds.append((m.group(1), m.group(2), float(m.group(3))))

    def check(self, metrics: dict[str, float], update: int) -> None:
        for key, op, value in self.bounds:
            if key not in metrics:
                raise DivergenceError(f"guard metric {key!r} is not logged; logged metrics: "
                                      f"{', '.join(sorted(metrics))}")
            x = metrics[key]
            ok = (x < value) if op == "<" else (x > value)
            if not ok:  # NaN fails both comparisons
                raise DivergenceError(f"divergence guard: {key}={x:.4g} violates {key}{op}"
                                      f"{value:g} at update {update}")

    @staticmethod
    def check_params(module: torch.nn.Module, update: int, last_good: str) -> None:
        """Raise ``DivergenceError`` naming the first non-finite parameter of ``module`` after
        update ``update``; ``last_good``: where the last good checkpoint is."""
        for name, p in module.named_parameters():
            if not torch.isfinite(p).all():
                raise DivergenceError(f"non-finite parameter {name} after update {update}; "
                                      f"{last_good}")
