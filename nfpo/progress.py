"""Training progress: a rich progress bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import math
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress


class Progress:
    """``update(step, steps_per_second, recent_return)``; ``close()`` when done."""

    def __init__(self, enabled: bool, total: int, start: int = 0) -> None:
        self.enabled, self.total = enabled, total
        self.console = Console(stderr=True)
        self.bar = None
        self.last_print = 0.0
        if enabled and self.console.is_terminal:
            self.bar = RichProgress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[sps]} steps/s  return {task.fields[ret]}"),
                TimeRemainingColumn(), console=self.console)
            self.task = self.bar.add_task("train", total=total, completed=start, sps="-",
                                          ret="-")
            self.bar.start()

    def update(self, step: int, sps: float, ret: float) -> None:
        ret_s = "-" if math.isnan(ret) else f"{ret:.1f}"
        if self.bar is not None:
            self.bar.update(self.task, completed=step, sps=f"{sps:.0f}", ret=ret_s)
        elif self.enabled and (time.time() - self.last_print > 10 or step >= self.total):
            self.last_print = time.time()
            print(f"step {step}/{self.total}  {sps:.0f} steps/s  return {ret_s}",
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
