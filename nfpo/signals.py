"""Graceful stop of a training loop on SIGINT / SIGTERM.

First signal: the loop finishes its update, writes a checkpoint and exits 130. A second one
only repeats that promise; a third aborts at once (losing the work since the last
checkpoint). ``install`` replaces the process's handlers; ``restore`` puts them back, or, for
a process that exits on the stop (the CLI), leaves both signals ignored: a repeated Ctrl-C
during interpreter shutdown would only print a KeyboardInterrupt traceback from a finalizer.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """``signum``: the first stop signal received (None while running); ``count``: how many."""

    def __init__(self) -> None:
        self.count = 0
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def handler(self, signum: int, _frame: Any) -> None:
        self.count += 1
        if self.count >= 3:
            raise KeyboardInterrupt
        if self.signum is None:
            self.signum = signum
            print("\nstopping: finishing this update, then writing a checkpoint", file=sys.stderr)
        else:
            print("\nstill finishing the update to save a checkpoint; a third interrupt aborts "
                  "without saving it", file=sys.stderr)

    def install(self) -> None:
        self._old = {s: signal.signal(s, self.handler) for s in STOP_SIGNALS}

    def restore(self, exit_after_signal: bool) -> None:
        """The handlers ``install`` replaced; SIG_IGN instead after a stop signal if
        ``exit_after_signal`` (the process is about to exit)."""
        ignore = self.count and exit_after_signal
        for s, h in self._old.items():
            signal.signal(s, signal.SIG_IGN if ignore else h)
