"""Metrics sinks: ``metrics.csv`` (one row per update), TensorBoard (``tb/``: scalars, and
the run's config as text and as hparams) and, with ``--track``, Weights & Biases."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nfpo.checkpoint import atomic_write_text
from nfpo.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

HPARAM_METRICS = ("episode/return_recent", "eval/return")  # columns of TensorBoard's HPARAMS


def flatten_config(config: dict[str, Any]) -> dict[str, Any]:
    """``{"ppo": {"learning_rate": 3e-4}}`` -> ``{"ppo.learning_rate": 3e-4}``; values that
    TensorBoard's hparams cannot hold (None, tuples) become strings."""
    out: dict[str, Any] = {}
    for sec, fields in config.items():
        for k, v in fields.items():
            out[f"{sec}.{k}"] = v if isinstance(v, (bool, int, float, str)) else json.dumps(v)
    return out


def wandb_options(run: Any, run_id: str, run_dir: Path) -> dict[str, Any] | None:
    """``wandb.init`` arguments of a run (``run``: its ``RunConfig``), None without --track."""
    if not run.track:
        return None
    return {"project": run.wandb_project, "entity": run.wandb_entity, "id": run_id,
            "name": Path(run_dir).name, "dir": str(run_dir)}


def _config_markdown(config: dict[str, Any]) -> str:
    rows = "\n".join(f"| {k} | `{v}` |" for k, v in flatten_config(config).items())
    return "| field | value |\n|---|---|\n" + rows


class MetricsLogger:
    """``log(step, metrics)`` appends a CSV row and writes TensorBoard scalars.

    The CSV header is fixed by the first row; a later row with new keys rewrites the file with
    the extended header (old rows get empty cells)."""

    def __init__(self, run_dir: Path, tensorboard: bool = True,
                 config: dict[str, Any] | None = None,
                 wandb: dict[str, Any] | None = None) -> None:
        """``config``: ``TrainConfig.to_dict()``, written to TensorBoard as text and hparams
        and to W&B; ``wandb``: ``wandb.init`` arguments (project, entity, id, name, dir) to
        log there too (None: off)."""
        self.path = Path(run_dir) / "metrics.csv"
        self.fields: list[str] = []
        if self.path.exists():
            with open(self.path) as f:
                self.fields = next(csv.reader(f), [])
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"))
            if config is not None:
                self._write_hparams(config)
        self.wandb = self._init_wandb(wandb, config) if wandb is not None else None

    def _write_hparams(self, config: dict[str, Any]) -> None:
        from torch.utils.tensorboard.summary import hparams

        self.writer.add_text("config", _config_markdown(config), 0)
        file_writer = self.writer._get_file_writer()
        for summary in hparams(flatten_config(config), dict.fromkeys(HPARAM_METRICS, 0.0)):
            file_writer.add_summary(summary)

    @staticmethod
    def _init_wandb(options: dict[str, Any], config: dict[str, Any] | None) -> Any:
        try:
            import wandb
        except ImportError as e:
            raise ConfigError("--track logs to Weights & Biases, which is not installed: "
                              "pip install 'nfpo[wandb]'") from e
        return wandb.init(**options, config=config, resume="allow", reinit="create_new")

    def log(self, step: int, metrics: dict[str, float]) -> None:
        row = {"global_step": step, **metrics}
        new = [k for k in row if k not in self.fields]
        if new:
            self._rewrite(self.fields + new)
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow(row)
        if self.writer is not None:
            for k, v in metrics.items():
                if isinstance(v, (int, float)) and math.isfinite(v):
                    self.writer.add_scalar(k, v, step)
        if self.wandb is not None:
            self.wandb.log({k: v for k, v in metrics.items() if isinstance(v, (int, float))},
                           step=step)

    def image(self, tag: str, img: np.ndarray, step: int) -> None:
        """An RGB image ``[H, W, 3]`` uint8 to TensorBoard (no-op without TensorBoard)."""
        if self.writer is not None:
            self.writer.add_image(tag, img, step, dataformats="HWC")

    def _rewrite(self, fields: list[str]) -> None:
        rows = []
        if self.path.exists():
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
        tmp = self.path.with_name(".tmp_metrics.csv")
        with open(tmp, "w", newline="") as f:
            w = csv.DictWriter(f, fields)
            w.writeheader()
            w.writerows(rows)
        tmp.replace(self.path)
        self.fields = fields

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()


def read_metrics(run_dir: Path) -> dict[str, list[float]]:
    """Columns of ``metrics.csv`` as float lists (empty cells -> nan)."""
    path = Path(run_dir) / "metrics.csv"
    cols: dict[str, list[float]] = {}
    if not path.exists():
        return cols
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                try:
                    x = float(v) if v not in (None, "") else math.nan
                except ValueError:
                    x = math.nan
                cols.setdefault(k, []).append(x)
    return cols


def truncate_metrics(run_dir: Path, max_step: int) -> None:
    """Drop rows of ``metrics.csv`` with ``global_step > max_step`` (rows logged after the
    checkpoint a run resumes from), atomically."""
    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if float(r["global_step"]) <= max_step]
    write_csv(path, fields, rows)


def write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    """Write ``rows`` (dicts over ``fields``) as a CSV file with a header, atomically."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fields)
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(Path(path), buf.getvalue())
