"""The run directory: where a run's files live, and the rules that keep them safe.

Layout (``nfpo train``)::

    RUN_DIR/
      config.json        {"nfpo_version", "config": TrainConfig.to_dict(), "env_spec"}
      metrics.csv        one row per update
      tb/                TensorBoard events (scalars, the config as text and hparams)
      checkpoints/       step_000123456/ (see nfpo.checkpoint); latest -> newest; best/
      summary.json eval.json failure.json report/ export/ videos/

Rules: a new run never writes into a dir that already holds a run (``--resume`` continues it,
``--overwrite`` deletes it first); config.json is parsed and validated here and nowhere else
in the training/evaluation path; default names are unique and readable.
"""

from __future__ import annotations

import json
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from nfpo import __version__
from nfpo.checkpoint import (
    atomic_write_text,
    check_writable,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from nfpo.errors import CheckpointError, ConfigError, NfpoError, os_error_message

# files and dirs whose presence means "a run lives here"
RUN_MARKERS = ("config.json", "metrics.csv", "checkpoints", "summary.json")


def default_name(env_id: str, policy: str, seed: int) -> str:
    """``<env>__<policy>__s<seed>__<YYYYmmdd-HHMMSS-mmm>-<4 hex>``: readable, sortable by time,
    and unique even for runs launched in the same millisecond (random suffix). ``/`` and
    ``:`` of env ids (``nfpo/MultiGoal-v0``, ``pkg.mod:Env-v0``) become ``-``."""
    slug = env_id.replace("/", "-").replace(":", "-")
    now = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now)) + f"-{int(now % 1 * 1000):03d}"
    return f"{slug}__{policy}__s{seed}__{stamp}-{secrets.token_hex(2)}"


class RunDir:
    """A run directory ``path``. Cheap to create: nothing is read or written until asked."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.config_path = self.path / "config.json"

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- a new run ------------------------------------------------------------------------
    def holds_run(self) -> bool:
        """True if any file of an earlier run is here (config, metrics, checkpoints, summary)."""
        return self.path.is_dir() and any((self.path / m).exists() for m in RUN_MARKERS)

    def prepare_new(self, overwrite: bool = False) -> None:
        """Make the dir ready for a new run, or raise ConfigError before anything is written:
        the path is a file; it holds a run and ``overwrite`` is False; it cannot be written."""
        p = self.path
        if p.exists() and not p.is_dir():
            raise ConfigError(f"run dir {p} exists and is a file, not a directory; choose "
                              "another --run-dir")
        if self.holds_run():
            if not overwrite:
                raise ConfigError(
                    f"run dir {p} already holds a run{self._describe()}; continue it with "
                    f"`nfpo train --resume {p}`, choose another --run-dir, or pass --overwrite "
                    "to delete it and start over")
            try:
                shutil.rmtree(p)
            except OSError as e:
                raise ConfigError(os_error_message(e, "delete the old run in")) from e
        check_writable(p / "config.json", "to run dir")  # creates the dir, probes a file

    def _describe(self) -> str:
        try:
            meta = json.loads(self.config_path.read_text())
            c = meta["config"]
            return f" ({c['env']['id']}, policy {c['policy']['kind']}, seed {c['run']['seed']})"
        except (OSError, ValueError, KeyError, TypeError):
            return ""

    @staticmethod
    def create_default(root: Path | str, env_id: str, policy: str, seed: int) -> RunDir:
        """A new, empty dir ``root/<default_name>`` (created here, so two runs launched at the
        same moment cannot share it)."""
        for _ in range(100):
            path = Path(root) / default_name(env_id, policy, seed)
            try:
                path.mkdir(parents=True, exist_ok=False)
                return RunDir(path)
            except FileExistsError:
                continue
            except OSError as e:
                raise ConfigError(os_error_message(e, "create run dir")) from e
        raise ConfigError(f"could not create a unique run dir under {root}")

    def write_config(self, cfg: Any, spec: Any) -> None:
        """config.json of ``cfg`` (a ``TrainConfig``) and ``spec`` (an ``EnvSpec``), atomically."""
        self.path.mkdir(parents=True, exist_ok=True)
        meta = {
            "nfpo_version": __version__,
            "config": cfg.to_dict(),
            "env_spec": {"id": spec.id, "obs_dim": spec.obs_dim, "act_dim": spec.act_dim,
                         "critic_obs_dim": spec.critic_obs_dim,
                         "action_low": spec.action_low.tolist(),
                         "action_high": spec.action_high.tolist()},
        }
        atomic_write_text(self.config_path, json.dumps(meta, indent=2))

    def write_summary(self, summary: dict[str, Any]) -> None:
        """summary.json of a finished run (atomically); a resumed run that finished drops the
        failure.json of its earlier failure."""
        atomic_write_text(self.path / "summary.json", json.dumps(summary, indent=2))
        (self.path / "failure.json").unlink(missing_ok=True)

    def write_failure(self, kind: str, error: str, **where: Any) -> None:
        """failure.json: a machine-readable record of why the run stopped (bench reports
        count them); ``where``: e.g. update and global_step."""
        atomic_write_text(self.path / "failure.json", json.dumps(
            {"kind": kind, "error": error, **where}, indent=2))

    # --- checkpoints (nfpo.checkpoint) ----------------------------------------------------
    def save_checkpoint(self, step: int, tensors: dict[str, Any], state: dict[str, Any],
                        keep: int, name: str | None = None) -> Path:
        """checkpoints/step_<step> (or checkpoints/<name>), atomically; keeps the newest
        ``keep`` step checkpoints."""
        return save_checkpoint(self.path, step, tensors, state, keep, name=name)

    def last_good(self, every: int) -> str:
        """Where the newest checkpoint is, for error messages (``every``: the checkpoint
        interval in updates, named when there is none yet)."""
        ckpts = list_checkpoints(self.path)
        return (f"last good checkpoint: {ckpts[-1]}" if ckpts else
                f"no checkpoint was written yet (every {every} updates)")

    def read_resume(self) -> tuple[Any, dict[str, Any] | None, dict[str, Any] | None]:
        """(validated ``TrainConfig``, tensors, state) of the newest intact checkpoint, or
        (config, None, None) for a run stopped before its first checkpoint; any problem
        with config.json is a CheckpointError "cannot resume DIR: ..."."""
        try:
            cfg, _ = self.read_config()
        except CheckpointError as e:
            raise CheckpointError(f"cannot resume {self.path}: {e}") from e
        if not list_checkpoints(self.path):
            return cfg, None, None
        tensors, state = load_checkpoint(self.path)
        return cfg, tensors, state

    # --- reading an existing run ----------------------------------------------------------
    def read_meta(self) -> dict[str, Any]:
        """config.json as a dict (``config``, ``env_spec``, ``nfpo_version``), unvalidated."""
        if not self.config_path.exists():
            raise CheckpointError(f"{self.path} is not an nfpo run dir (no config.json)")
        try:
            meta = json.loads(self.config_path.read_text())
        except (OSError, ValueError) as e:  # JSON and Unicode errors included
            raise CheckpointError(f"corrupted {self.config_path}: {e}") from e
        if not isinstance(meta, dict) or not isinstance(meta.get("config"), dict):
            raise CheckpointError(f"corrupted {self.config_path}: expected an object with a "
                                  "'config' section")
        return meta

    def best_eval_return(self) -> float:
        """Evaluation return recorded in checkpoints/best (-inf if there is none)."""
        try:
            best = json.loads((self.path / "checkpoints" / "best" / "state.json").read_text())
            return float(best["eval_return"])
        except (OSError, ValueError, KeyError, TypeError):
            return float("-inf")

    def read_config(self) -> tuple[Any, dict[str, Any]]:
        """(validated ``TrainConfig``, env spec dict) of this run; any problem is a
        CheckpointError naming config.json and the bad value."""
        from nfpo.config import TrainConfig

        meta = self.read_meta()
        try:
            cfg = TrainConfig.from_dict(meta["config"]).validate()
        except NfpoError as e:
            raise CheckpointError(f"bad config in {self.config_path}: {e}") from e
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"corrupted {self.config_path}: {e}") from e
        spec = meta.get("env_spec")
        try:
            spec = dict(spec)
            spec["obs_dim"], spec["act_dim"] = int(spec["obs_dim"]), int(spec["act_dim"])
            spec["critic_obs_dim"] = int(spec.get("critic_obs_dim", 0))
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"corrupted {self.config_path}: bad env_spec ({e})") from e
        return cfg, spec
