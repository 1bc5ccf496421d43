"""Grid specification: tasks x arms x seeds, expanded into jobs.

A spec is a TOML file (or the same fields given as flags to ``nfpo bench``)::

    name = "stability"
    tasks = ["Hopper-v5", "Walker2d-v5"]
    seeds = [1, 2, 3]
    total_steps = 300000
    args = "--learning-rate 1e-3"          # flags every job gets (optional)
    policies = ["flow", "gaussian"]        # shorthand: one arm per policy (--policy NAME)

    [arms]                                 # or named arms: name -> extra `nfpo train` flags
    flow = "--policy flow"
    flow-no-bound = "--policy flow --log-scale-bound 0"

    reference_name = "CleanRL PPO, 1M"     # optional: published returns shown in the report
    [references]
    "Hopper-v5" = 2383

Every job is ``nfpo train <args> <arm flags> --env TASK --seed SEED --total-steps N``; its id is
``TASK__ARM__sSEED``. Flags are checked against the train CLI before anything runs.
"""

from __future__ import annotations

import copy
import functools
import re
import shlex
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nfpo.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_KEYS = ("name", "tasks", "seeds", "total_steps", "args", "policies", "arms", "eval_episodes",
         "references", "reference_name")
_ARM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
# flags a job's identity sets; an arm or `args` must not set them
_RESERVED = ("--env", "--seed", "--total-steps", "--run-dir", "--resume")


@dataclass
class GridSpec:
    """What a grid runs. ``arms`` maps an arm name to its extra ``nfpo train`` flags."""

    name: str = "grid"
    tasks: list[str] = field(default_factory=lambda: ["Hopper-v5"])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    total_steps: int = 1_000_000
    args: str = ""
    arms: dict[str, str] = field(default_factory=lambda: {"flow": "--policy flow"})
    eval_episodes: int = 10
    references: dict[str, float] = field(default_factory=dict)
    """published returns per task to show beside the grid's (e.g. CleanRL's PPO at 1M)."""
    reference_name: str = "reference"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "spec") -> GridSpec:
        unknown = sorted(set(d) - set(_KEYS))
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {unknown}; accepted: {list(_KEYS)}")
        d = dict(d)
        policies = d.pop("policies", None)
        if policies is not None:
            if "arms" in d:
                raise ConfigError(f"{source}: give either 'policies' or '[arms]', not both")
            d["arms"] = {p: f"--policy {p}" for p in _str_list(policies, "policies", source)}
        spec = cls(**d)
        spec.validate(source)
        return spec

    def validate(self, source: str = "spec") -> None:
        if not isinstance(self.name, str) or not _ARM_NAME.match(self.name):
            raise ConfigError(f"{source}: name={self.name!r} must be a non-empty identifier "
                              "(letters, digits, _ . + -)")
        self.tasks = _str_list(self.tasks, "tasks", source)
        if not isinstance(self.seeds, list) or not self.seeds or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in self.seeds):
            raise ConfigError(f"{source}: seeds={self.seeds!r} must be a non-empty list of "
                              "integers >= 0")
        if len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"{source}: seeds={self.seeds!r} has duplicates")
        if not isinstance(self.total_steps, int) or self.total_steps <= 0:
            raise ConfigError(f"{source}: total_steps={self.total_steps!r} must be an integer "
                              "> 0")
        if not isinstance(self.eval_episodes, int) or self.eval_episodes < 0:
            raise ConfigError(f"{source}: eval_episodes={self.eval_episodes!r} must be an "
                              "integer >= 0")
        if not isinstance(self.references, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in self.references.values()):
            raise ConfigError(f"{source}: references={self.references!r} must map task ids "
                              "to numbers")
        if not isinstance(self.arms, dict) or not self.arms:
            raise ConfigError(f"{source}: needs at least one arm ('policies' or '[arms]')")
        for name, flags in {"args": self.args, **self.arms}.items():
            if name != "args" and not _ARM_NAME.match(name):
                raise ConfigError(f"{source}: arm name {name!r} must use letters, digits, "
                                  "_ . + - only")
            if not isinstance(flags, str):
                raise ConfigError(f"{source}: flags of {name!r} must be one string, got "
                                  f"{flags!r}")
            for tok in shlex.split(flags):
                if tok.split("=")[0] in _RESERVED:
                    raise ConfigError(f"{source}: {name!r} sets {tok}, which the grid sets per "
                                      f"job; reserved: {list(_RESERVED)}")


@dataclass(frozen=True)
class Job:
    """One training run of a grid."""

    task: str
    arm: str
    seed: int
    total_steps: int
    flags: tuple[str, ...]  # `nfpo train` flags without --run-dir

    @property
    def id(self) -> str:
        return f"{self.task.replace('/', '-')}__{self.arm}__s{self.seed}"


def expand(spec: GridSpec) -> list[Job]:
    """All jobs, ordered seed-major (every task and arm gets its first seed before any second
    seed, so a partly finished grid is balanced)."""
    common = shlex.split(spec.args)
    jobs = []
    for seed in spec.seeds:
        for task in spec.tasks:
            for arm, flags in spec.arms.items():
                argv = [*common, *shlex.split(flags), "--env", task, "--seed", str(seed),
                        "--total-steps", str(spec.total_steps),
                        "--eval-episodes", str(spec.eval_episodes)]
                jobs.append(Job(task, arm, seed, spec.total_steps, tuple(argv)))
    return jobs


def job_config(job: Job) -> dict[str, Any]:
    """The resolved ``TrainConfig`` (as a dict) that a job's flags produce; raises
    ``ConfigError`` naming the job on bad flags. Each distinct flag set is parsed once per
    process."""
    try:
        return copy.deepcopy(dict(_parse_flags(job.flags)))
    except ConfigError as e:
        raise ConfigError(f"job {job.id}: {e}") from None


@functools.cache
def _parse_flags(flags: tuple[str, ...]) -> tuple[tuple[str, Any], ...]:
    import contextlib
    import io

    import tyro

    from nfpo.config import TrainConfig
    from nfpo.presets import expand_presets

    err = io.StringIO()
    try:
        args = expand_presets(list(flags))
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            cfg = tyro.cli(TrainConfig, args=args, config=(tyro.conf.OmitArgPrefixes,))
    except SystemExit:
        msg = " ".join(err.getvalue().split())[-600:]
        raise ConfigError(f"bad flags {' '.join(flags)!r}: {msg}") from None
    cfg = cfg.validate()
    return tuple(cfg.to_dict().items())  # callers get a deep copy (job_config)


def check_flags(jobs: list[Job]) -> None:
    """Parse every job's flags with the train CLI; a bad flag raises ``ConfigError`` naming
    the job, before anything runs."""
    for job in jobs:
        job_config(job)


def load_spec(path: str | Path) -> GridSpec:
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"grid spec {path} does not exist")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"grid spec {path}: invalid TOML ({e})") from None
    return GridSpec.from_dict(data, source=str(path))


def _str_list(x: Any, key: str, source: str) -> list[str]:
    if isinstance(x, str):
        x = [x]
    if not isinstance(x, list) or not x or not all(isinstance(v, str) and v for v in x):
        raise ConfigError(f"{source}: {key}={x!r} must be a non-empty list of strings")
    if len(set(x)) != len(x):
        raise ConfigError(f"{source}: {key}={x!r} has duplicates")
    return x
