"""Metrics sinks: ``metrics.csv`` (one row per update) and TensorBoard (``tb/``)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class MetricsLogger:
    """``log(step, metrics)`` appends a CSV row and writes TensorBoard scalars.

    The CSV header is fixed by the first row; a later row with new keys rewrites the file with
    the extended header (old rows get empty cells)."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        self.path = Path(run_dir) / "metrics.csv"
        self.fields: list[str] = []
        if self.path.exists():
            with open(self.path) as f:
                self.fields = next(csv.reader(f), [])
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(Path(run_dir) / "tb"))

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
    tmp = path.with_name(".tmp_metrics.csv")
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(rows)
    tmp.replace(path)
