"""Run a grid of jobs on this machine (a process per job) or on a Ray cluster.

``run_grid`` is idempotent: finished and diverged jobs are skipped, unfinished ones resume from
their newest checkpoint, and a job that fails is recorded with its error while the others go
on. Failed jobs are retried ``retries`` times (each retry resumes)."""

from __future__ import annotations

import fnmatch
import json
import os
import platform
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from nfpo import __version__
from nfpo.bench.jobs import (
    DIVERGED,
    DONE,
    FAILED,
    PENDING,
    STOP,
    JobError,
    job_state,
    record,
    run_dir_of,
    run_job,
    stop_all,
)
from nfpo.bench.spec import GridSpec, Job, check_flags, expand
from nfpo.checkpoint import atomic_write_text
from nfpo.errors import ConfigError, NfpoError
from nfpo.run_dir import RunDir

BACKENDS = ("local", "ray")


def machine_info() -> dict[str, Any]:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()}


def read_index(grid_dir: Path) -> dict[str, dict[str, Any]]:
    path = Path(grid_dir) / "index.json"
    return json.loads(path.read_text())["jobs"] if path.exists() else {}


def _write_index(grid_dir: Path, jobs: dict[str, dict[str, Any]]) -> None:
    counts = {s: sum(r["status"] == s for r in jobs.values())
              for s in (DONE, DIVERGED, FAILED, PENDING)}
    atomic_write_text(Path(grid_dir) / "index.json",
                      json.dumps({"counts": counts, "jobs": jobs}, indent=1))


def prepare(spec: GridSpec, grid_dir: Path, write: bool = True) -> list[Job]:
    """Check the spec's flags, refuse to reuse a job id with another setting, write
    ``grid.json`` and the initial index (``write=False``, a dry run: write nothing, so that
    a grid running meanwhile keeps its command and index); returns all jobs. Flags spelled
    differently from the recorded command are accepted when they give the config the job's
    run was made with, or when the job has no run yet."""
    jobs = expand(spec)
    check_flags(jobs)
    index = read_index(grid_dir)
    for job in jobs:
        old = index.get(job.id)
        cmd = "nfpo train " + " ".join(job.flags)
        diff = _config_diff(grid_dir, job)
        if not diff:  # no run yet, or the same config (however the flags spell it)
            continue
        what = "; ".join(diff[:4])
        if old is not None and _strip_steps(old["command"]) != _strip_steps(cmd):
            raise ConfigError(
                f"job {job.id} already exists in {grid_dir} with other flags ({what}):\n  was: "
                f"{old['command']}\n  now: {cmd}\nuse another grid dir (--out) for a new setting")
        raise ConfigError(
            f"job {job.id}: its run in {run_dir_of(grid_dir, job)} was made with another config "
            f"than its flags give now (a changed preset or default?): {what}. Use another grid "
            "dir (--out), or flags that reproduce the run's config")
    if not write:
        return jobs
    grid_dir.mkdir(parents=True, exist_ok=True)
    meta = {"spec": spec.to_dict(), "command": " ".join(["nfpo", *sys.argv[1:]]),
            "machine": machine_info(), "nfpo_version": __version__,
            "updated": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    atomic_write_text(grid_dir / "grid.json", json.dumps(meta, indent=2))
    _refresh_index(grid_dir, jobs, index)
    return jobs


def _config_diff(grid_dir: Path, job: Job) -> list[str] | None:
    """How the config a job's existing run was made with differs from what its flags resolve
    to now (a command may read the same while a preset or a default changed), as
    ``section.field: run has X, flags give Y`` lines; the budget (total_steps) may differ.
    None if the job has no readable config.json (an unreadable one is left to its resume)."""
    from nfpo.bench.spec import job_config

    try:
        have = _comparable(RunDir(run_dir_of(grid_dir, job)).read_meta()["config"])
    except (KeyError, NfpoError):
        return None
    want = _comparable(job_config(job))
    for cfg in (have, want):
        cfg["run"].pop("total_steps", None)
    return [f"{sec}.{k}: run has {have[sec].get(k)!r}, flags give {v!r}"
            for sec, part in want.items() for k, v in part.items() if have[sec].get(k) != v]


def job_status(grid_dir: Path, job: Job, index: dict[str, dict[str, Any]]) -> str:
    """A job's state as its run dir shows it, or ``failed`` if ``index`` recorded a failure."""
    failed = index.get(job.id, {}).get("status") == FAILED
    return FAILED if failed else job_state(grid_dir, job)


def _refresh_index(grid_dir: Path, jobs: list[Job], index: dict[str, dict[str, Any]]) -> None:
    """Record each job's state as its run dir shows it, and write the index. Jobs that the
    spec no longer has (an arm taken out) leave the index; their run dirs stay on disk."""
    fresh = {job.id: {**index.get(job.id, {}), **record(grid_dir, job, job_state(grid_dir, job))}
             for job in jobs}
    index.clear()
    index.update(fresh)
    _write_index(grid_dir, index)


def _strip_steps(cmd: str) -> str:
    """A job's command without its ``--total-steps N`` (the budget may grow between runs)."""
    return re.sub(r" --total-steps \S+", "", cmd)


# fields that only say where and how verbosely a run writes, or how it computes the same math
# (thread count, numpy rollout inference: float32 rounding apart), not what it computes
_OUTPUT_ONLY = {"run_dir", "progress", "tensorboard", "report", "torch_threads",
                "numpy_rollout", "checkpoint_every", "keep_checkpoints", "eval_episodes",
                "video_every", "video_steps"}


def _comparable(cfg: dict[str, Any]) -> dict[str, Any]:
    from nfpo.config import TrainConfig

    d = TrainConfig.from_dict(cfg).to_dict()  # fills fields added since the run was made
    d["run"] = {k: v for k, v in d["run"].items() if k not in _OUTPUT_ONLY}
    return d


def adopt(spec: GridSpec, grid_dir: str | Path, run_dirs: list[str | Path],
          log: Callable[[str], None] = print) -> list[str]:
    """Copy finished runs made outside the grid into it, each as the job whose flags give the
    same config (output-only fields aside), so the grid does not train them again. Returns
    the adopted job ids; a run that matches no pending job is left alone, with a message."""
    from nfpo.bench.spec import job_config

    grid_dir = Path(grid_dir)
    jobs = prepare(spec, grid_dir)
    wanted = {j.id: _comparable(job_config(j)) for j in jobs}
    adopted = []
    for src in map(Path, run_dirs):
        try:
            cfg = _comparable(RunDir(src).read_meta()["config"])
        except (KeyError, NfpoError) as e:
            raise ConfigError(f"cannot adopt {src}: not a readable nfpo run dir ({e})") from None
        if not (src / "summary.json").exists():
            log(f"  {src}: not finished (no summary.json); not adopted")
            continue
        match = [j for j in jobs if wanted[j.id] == cfg]
        if not match:
            log(f"  {src}: its config matches no job of {spec.name}; not adopted")
            continue
        job = match[0]
        dst = grid_dir / "runs" / job.id
        if dst.exists():
            log(f"  {src}: job {job.id} already has a run dir; not adopted")
            continue
        shutil.copytree(src, dst, symlinks=True)
        adopted.append(job.id)
        log(f"  {src} -> {job.id}")
    _refresh_index(grid_dir, jobs, read_index(grid_dir))
    return adopted


def run_grid(spec: GridSpec, grid_dir: str | Path, workers: int | None = None,
             backend: str = "local", address: str | None = None, retries: int = 1,
             torch_threads: int = 1, gpus_per_job: float = 0.0,
             log: Callable[[str], None] = print,
             only: Sequence[str] = ()) -> dict[str, Any]:
    """Run every unfinished job of ``spec`` into ``grid_dir``; returns the index counts.
    ``only``: job-id glob patterns (``*__flow__*``, ``Hopper-v5__*``); when given, only the
    matching jobs run now, while the index and report still cover the whole spec."""
    if backend not in BACKENDS:
        raise ConfigError(f"backend={backend!r} is not one of {list(BACKENDS)}")
    if retries < 0:
        raise ConfigError(f"retries={retries} must be >= 0")
    grid_dir = Path(grid_dir)
    jobs = prepare(spec, grid_dir)
    _lock(grid_dir)
    index = read_index(grid_dir)
    todo = [j for j in select(jobs, only) if index[j.id]["status"] in (PENDING, FAILED)]
    done = sum(index[j.id]["status"] == DONE for j in jobs)
    log(f"grid {spec.name}: {len(jobs)} jobs, {done} finished, {len(todo)} to run now "
        f"({backend}) -> {grid_dir}")
    STOP.clear()
    old_term = signal.signal(signal.SIGTERM, _raise_interrupt)
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
        log("stopping: each running job writes a checkpoint and exits...")
        stop_all()
        for _ in results:  # let the running jobs finish their checkpoints
            pass
        for job in jobs:
            if index[job.id]["status"] != DONE:
                index[job.id]["status"] = job_state(grid_dir, job)
        _write_index(grid_dir, index)
        log("stopped: run the same command again to resume")
        raise SystemExit(130) from None
    finally:
        signal.signal(signal.SIGTERM, old_term)
    return json.loads((grid_dir / "index.json").read_text())["counts"]


def select(jobs: list[Job], only: Sequence[str]) -> list[Job]:
    """The jobs whose id matches one of the glob patterns ``only`` (all jobs if empty);
    a pattern that matches nothing is an error naming the job ids."""
    if not only:
        return jobs
    for pat in only:
        if not any(fnmatch.fnmatchcase(j.id, pat) for j in jobs):
            ids = ", ".join(j.id for j in jobs[:6]) + (", ..." if len(jobs) > 6 else "")
            raise ConfigError(f"--only {pat!r} matches no job id (ids look like: {ids})")
    return [j for j in jobs if any(fnmatch.fnmatchcase(j.id, p) for p in only)]


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


_LOCKS: dict[str, Any] = {}


def _lock(grid_dir: Path) -> None:
    """Hold an exclusive lock on GRID_DIR/.lock for the life of this process, so that two
    ``nfpo bench`` processes never run the same jobs at once."""
    import fcntl

    key = str(grid_dir.resolve())
    if key in _LOCKS:
        return
    f = open(grid_dir / ".lock", "a+")  # noqa: SIM115 (held open until the process exits)
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "another process"
        f.close()
        raise ConfigError(f"{grid_dir} is being run by {holder}; wait for it to finish or stop "
                          "it (its jobs checkpoint and resume)") from None
    f.seek(0)
    f.truncate()
    f.write(f"pid {os.getpid()}")
    f.flush()
    _LOCKS[key] = f


def attempt(grid_dir: Path, job: Job, retries: int, torch_threads: int) -> dict[str, Any]:
    """Run a job, retrying a failure up to ``retries`` times (each retry resumes)."""
    for n in range(retries + 1):
        try:
            return run_job(grid_dir, job, torch_threads)
        except JobError as e:
            if n == retries or STOP.is_set():
                return record(grid_dir, job, FAILED, error=str(e))
    raise AssertionError("unreachable")


def _local(grid_dir: Path, todo: list[Job], workers: int, retries: int, torch_threads: int
           ) -> Iterator[tuple[Job, dict[str, Any]]]:
    """Up to ``workers`` jobs at once, each a child process; yields as jobs finish."""
    pool = ThreadPoolExecutor(max_workers=workers)
    pending = {pool.submit(attempt, grid_dir, j, retries, torch_threads): j for j in todo}
    try:
        while pending:
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                job = pending.pop(fut)
                yield job, fut.result()
    except BaseException:  # Ctrl-C / SIGTERM while waiting: stop the running jobs
        stop_all()
        raise
    finally:  # on a stop: queued jobs never start (run_job checks STOP), running ones finish
        pool.shutdown(wait=True, cancel_futures=True)
