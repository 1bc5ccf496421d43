"""Running one grid job, and the grid directory's index.

Grid directory layout::

    GRID_DIR/
      grid.json          the spec, the command and the machine
      index.json         one record per job: status, attempts, error, wall time
      runs/<job id>/     an ordinary nfpo run dir
      logs/<job id>.log  stdout + stderr of the job's training process

A job runs ``python -m nfpo train`` in a child process, so a crash, a divergence or a hung
native library never takes the grid down. Its state is read back from its run dir:
``summary.json`` means done, ``failure.json`` means the run diverged (deterministic, so it is
not retried), a checkpoint without either means it can resume.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from nfpo.bench.spec import Job
from nfpo.errors import NfpoError
from nfpo.run_dir import RunDir

DONE, DIVERGED, FAILED, PENDING = "done", "diverged", "failed", "pending"


STOP = threading.Event()  # set when the grid is stopped: no new launches, no retries
_CHILDREN: set[subprocess.Popen] = set()
# held from the STOP check to the child's registration, so that a stop cannot fall between a
# job's launch and its entry in _CHILDREN (that child would never get the SIGINT)
_LAUNCH = threading.Lock()


def stop_all() -> None:
    """Stop the grid: launch nothing more, and ask every running job to checkpoint and exit
    (one SIGINT each)."""
    with _LAUNCH:
        STOP.set()
        children = list(_CHILDREN)
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)


class JobError(RuntimeError):
    """A job's training process failed (not a divergence); the message holds the log tail."""


def run_dir_of(grid_dir: Path, job: Job) -> Path:
    return Path(grid_dir) / "runs" / job.id


def job_state(grid_dir: Path, job: Job) -> str:
    """``done`` / ``diverged`` / ``pending`` from the job's run dir (``pending`` includes a run
    that stopped part-way: it resumes from its newest checkpoint)."""
    d = run_dir_of(grid_dir, job)
    if (d / "failure.json").exists():
        return DIVERGED
    if (d / "summary.json").exists():
        try:
            total = RunDir(d).read_meta()["config"]["run"]["total_steps"]
        except (KeyError, TypeError, NfpoError):
            return PENDING
        return DONE if total >= job.total_steps else PENDING
    return PENDING


def train_command(grid_dir: Path, job: Job, torch_threads: int = 1) -> list[str]:
    """The ``nfpo train`` command for a job: resume if it has a checkpoint, else start."""
    d = run_dir_of(grid_dir, job)
    base = [sys.executable, "-m", "nfpo", "train"]
    if (d / "checkpoints" / "latest").exists():
        return [*base, "--resume", str(d), "--total-steps", str(job.total_steps)]
    return [*base, *job.flags, "--run-dir", str(d), "--no-progress",
            "--torch-threads", str(torch_threads)]


def run_job(grid_dir: str | Path, job: Job, torch_threads: int = 1) -> dict[str, Any]:
    """Run (or resume) one job to completion in a child process; returns its record.

    Raises ``JobError`` when the process fails for a reason other than a divergence, so that a
    backend can retry it (a retry resumes from the newest checkpoint)."""
    grid_dir = Path(grid_dir)
    d = run_dir_of(grid_dir, job)
    state = job_state(grid_dir, job)
    if state != PENDING or STOP.is_set():
        return record(grid_dir, job, state)
    if d.exists() and not (d / "checkpoints" / "latest").exists():
        shutil.rmtree(d)  # a start that never reached its first checkpoint: nothing to keep
    log = grid_dir / "logs" / f"{job.id}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = train_command(grid_dir, job, torch_threads)
    env = {**os.environ, "OMP_NUM_THREADS": str(torch_threads),
           "MKL_NUM_THREADS": str(torch_threads), "PYTHONUNBUFFERED": "1"}
    t0 = time.time()
    with open(log, "a") as f:
        f.write(f"\n$ {' '.join(cmd)}\n")
        f.flush()
        # its own session: a Ctrl-C in the terminal reaches the grid, which then stops each
        # job exactly once (SIGINT: the job checkpoints and exits)
        with _LAUNCH:
            if STOP.is_set():  # stopped while this job was being prepared
                return record(grid_dir, job, job_state(grid_dir, job))
            child = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
            _CHILDREN.add(child)
        try:
            rc = child.wait()
        except BaseException:  # interrupted here (e.g. a cancelled Ray task): stop the child
            child.send_signal(signal.SIGINT)
            child.wait()
            raise
        finally:
            _CHILDREN.discard(child)
    state = job_state(grid_dir, job)
    if state == PENDING:
        if STOP.is_set():
            return record(grid_dir, job, PENDING, wall=time.time() - t0)
        raise JobError(f"exit status {rc}: {log_tail(log)} (log: {log})")
    return record(grid_dir, job, state, wall=time.time() - t0)


def record(grid_dir: Path, job: Job, status: str, wall: float | None = None,
           error: str | None = None) -> dict[str, Any]:
    """The index entry of a job."""
    d = run_dir_of(grid_dir, job)
    rec: dict[str, Any] = {"task": job.task, "arm": job.arm, "seed": job.seed,
                           "run_dir": str(d.relative_to(grid_dir)), "status": status,
                           "command": "nfpo train " + " ".join(job.flags)}
    if status == DIVERGED:
        rec["error"] = json.loads((d / "failure.json").read_text()).get("error")
    if error is not None:
        rec["error"] = error
    if wall is not None:
        rec["last_wall_s"] = round(wall, 1)
    rec["attempts"] = launches(Path(grid_dir) / "logs" / f"{job.id}.log")
    return rec


def launches(log: Path) -> int:
    """How many times a job's process was started (each start writes a ``$ cmd`` line)."""
    try:
        return sum(line.startswith("$ ") for line in Path(log).read_text(errors="replace")
                   .splitlines())
    except OSError:
        return 0


def log_tail(path: Path, lines: int = 6) -> str:
    """The last ``lines`` lines the job's latest launch wrote, joined into one line."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return "(no log)"
    last = text.rsplit("\n$ ", 1)[-1].splitlines()[1:]  # drop the command line itself
    return " ".join(" ".join(last[-lines:]).split()) or "(no output)"
