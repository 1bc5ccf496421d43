"""Ray backend: the same jobs as Ray tasks, results in the same grid dir.

Each job is one Ray task that requests ``torch_threads`` CPUs (and ``gpus_per_job`` GPUs) and
runs ``nfpo train`` in a child process on whichever node Ray picks. A failed job is retried by
Ray (``max_retries``; a retry resumes from the newest checkpoint). On a multi-node cluster the
grid dir must be on a filesystem every node shares (NFS, a mounted bucket), because runs,
checkpoints and logs are written there directly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nfpo.bench.jobs import FAILED, JobError, record, run_job
from nfpo.bench.spec import Job
from nfpo.errors import ConfigError


def _ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs Ray, which is not installed: "
                          "pip install 'nfpo[ray]'") from None
    return ray


def run_on_ray(grid_dir: Path, todo: list[Job], address: str | None, retries: int,
               torch_threads: int, gpus_per_job: float = 0.0
               ) -> Iterator[tuple[Job, dict[str, Any]]]:
    """Submit every job; yield (job, record) as tasks finish. ``address``: ``auto``, a
    ``HOST:PORT`` of a running cluster, or None to start a local Ray instance."""
    ray = _ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False) if address else \
            ray.init(log_to_driver=False)
    task = ray.remote(num_cpus=torch_threads, num_gpus=gpus_per_job, max_retries=retries,
                      retry_exceptions=[JobError])(run_job)
    refs = {task.remote(str(Path(grid_dir).resolve()), job, torch_threads): job for job in todo}
    try:
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    rec = ray.get(ref)
                except Exception as e:  # JobError after the last retry, or a lost node/worker
                    rec = record(Path(grid_dir), job, FAILED, error=_cause(e))
                yield job, rec
    except BaseException:  # a stop: each running task stops its job (checkpoint, exit)
        for ref in refs:
            ray.cancel(ref)
        raise


def _cause(e: Exception) -> str:
    cause = getattr(e, "cause", None)
    return str(cause) if cause is not None else str(e)
