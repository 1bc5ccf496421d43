"""Run a grid of jobs on this machine (a process per job) or on a Ray cluster.

``run_grid`` is idempotent: finished and diverged jobs are skipped, unfinished ones resume from
their newest checkpoint, and a job that fails is recorded with its error while the others go
on. Failed jobs are retried ``retries`` times (each retry resumes)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from nfpo import __version__
from nfpo.bench.jobs import DONE, FAILED, PENDING, JobError, job_state, record, run_job
from nfpo.bench.spec import GridSpec, Job, check_flags, expand
from nfpo.checkpoint import atomic_write_text
from nfpo.errors import ConfigError

BACKENDS = ("local", "ray")


def machine_info() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}


def read_index(grid_dir: Path) -> dict[str, dict[str, Any]]:
    path = Path(grid_dir) / "index.json"
    return json.loads(path.read_text())["jobs"] if path.exists() else {}


def _write_index(grid_dir: Path, jobs: dict[str, dict[str, Any]]) -> None:
    counts = {s: sum(r["status"] == s for r in jobs.values())
              for s in (DONE, "diverged", FAILED, PENDING)}
    atomic_write_text(Path(grid_dir) / "index.json",
                      json.dumps({"counts": counts, "jobs": jobs}, indent=1))


def prepare(spec: GridSpec, grid_dir: Path) -> list[Job]:
    """Check the spec's flags, refuse to reuse a job id with other flags, write ``grid.json``
    and the initial index; returns all jobs."""
    jobs = expand(spec)
    check_flags(jobs)
    grid_dir.mkdir(parents=True, exist_ok=True)
    index = read_index(grid_dir)
    for job in jobs:
        old = index.get(job.id)
        cmd = "nfpo train " + " ".join(job.flags)
        if old is not None and _strip_steps(old["command"]) != _strip_steps(cmd):
            raise ConfigError(
                f"job {job.id} already exists in {grid_dir} with other flags:\n  was: "
                f"{old['command']}\n  now: {cmd}\nuse another grid dir (--out) for a new setting")
    meta = {"spec": spec.to_dict(), "command": " ".join(["nfpo", *sys.argv[1:]]),
            "machine": machine_info(), "nfpo_version": __version__,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    atomic_write_text(grid_dir / "grid.json", json.dumps(meta, indent=2))
    for job in jobs:
        index[job.id] = {**index.get(job.id, {}), **record(grid_dir, job, job_state(grid_dir, job))}
    _write_index(grid_dir, index)
    return jobs


def _strip_steps(cmd: str) -> str:  # --total-steps may grow between invocations
    toks = cmd.split()
    out = []
    skip = False
    for t in toks:
        if skip:
            skip = False
            continue
        if t == "--total-steps":
            skip = True
            continue
        out.append(t)
    return " ".join(out)


def run_grid(spec: GridSpec, grid_dir: str | Path, workers: int | None = None,
             backend: str = "local", address: str | None = None, retries: int = 1,
             torch_threads: int = 1, gpus_per_job: float = 0.0,
             log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every unfinished job of ``spec`` into ``grid_dir``; returns the index counts."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r} is not one of {list(BACKENDS)}")
    if retries < 0:
        raise ConfigError(f"retries={retries} must be >= 0")
    grid_dir = Path(grid_dir)
    jobs = prepare(spec, grid_dir)
    index = read_index(grid_dir)
    todo = [j for j in jobs if index[j.id]["status"] in (PENDING, FAILED)]
    log(f"grid {spec.name}: {len(jobs)} jobs, {len(jobs) - len(todo)} already finished, "
        f"{len(todo)} to run ({backend}) -> {grid_dir}")
    if backend == "local":
        results = _local(grid_dir, todo, workers or max(1, (os.cpu_count() or 1) // torch_threads),
                         retries, torch_threads)
    else:
        from nfpo.bench.ray_backend import run_on_ray

        results = run_on_ray(grid_dir, todo, address, retries, torch_threads, gpus_per_job)
    try:
        for job, rec in results:
            index[job.id] = {k: v for k, v in index[job.id].items() if k != "error"} | rec
            _write_index(grid_dir, index)
            err = f" ({rec['error'].splitlines()[0]})" if rec.get("error") else ""
            log(f"  {job.id}: {rec['status']}{err}")
    except KeyboardInterrupt:
        for job in jobs:
            if index[job.id]["status"] != DONE:
                index[job.id]["status"] = job_state(grid_dir, job)
        _write_index(grid_dir, index)
        log("interrupted: running jobs checkpointed; run the same command again to resume")
        raise SystemExit(130) from None
    return json.loads((grid_dir / "index.json").read_text())["counts"]


def attempt(grid_dir: Path, job: Job, retries: int, torch_threads: int) -> dict[str, Any]:
    """Run a job, retrying a failure up to ``retries`` times (each retry resumes)."""
    for n in range(retries + 1):
        try:
            return run_job(grid_dir, job, torch_threads)
        except JobError as e:
            if n == retries:
                return record(grid_dir, job, FAILED, error=str(e))
    raise AssertionError("unreachable")


def _local(grid_dir: Path, todo: list[Job], workers: int, retries: int, torch_threads: int
           ) -> Iterator[tuple[Job, dict[str, Any]]]:
    """Up to ``workers`` jobs at once, each a child process; yields as jobs finish."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = {pool.submit(attempt, grid_dir, j, retries, torch_threads): j for j in todo}
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = pending.pop(fut)
                yield job, fut.result()
