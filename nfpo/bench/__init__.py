"""Benchmark grids: tasks x arms x seeds, run locally (a process per job) or on Ray."""

from nfpo.bench.grid import run_grid
from nfpo.bench.spec import GridSpec, load_spec

__all__ = ["GridSpec", "load_spec", "run_grid"]
