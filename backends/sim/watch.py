"""A run watched while it goes: a deadline, SIGINT/SIGTERM, progress bar and progress lines.

`rebal simulate` (one spec, a sweep, several specs; in process or on a cluster) wraps its run
in :func:`stop_on_signals` and hands the :class:`Watch` to the engine as ``on_step`` (before
every step) or to :func:`.distributed.collect` as ``check`` (while waiting for chunks): either
raises :class:`RunStopped` at the deadline or after a signal, and nothing is printed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from rebal.compiler.run_size import human_seconds

__all__ = ["PROGRESS_LINE_AFTER_S", "RunStopped", "Watch", "isatty", "progress_bar",
           "stop_on_signals"]

PROGRESS_LINE_AFTER_S = 5.0  # without a TTY, a progress line every 10% once a run takes this
SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}


@contextlib.contextmanager
def progress_bar(err: TextIO, show: bool, label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A `(done, total)` callback drawing a rich progress bar on `err`, or None."""
    if not show:
        yield None
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
    except ImportError:
        yield None
        return
    progress = Progress(
        TextColumn(label),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=Console(file=err),
        transient=True,
    )
    with progress:
        task = progress.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class RunStopped(Exception):
    """The run was stopped before it finished (a deadline or a signal); nothing is printed."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Watch:
    """Called before every step (in process) or while waiting for a cluster (:meth:`poll`):
    stops the run at the deadline or on a signal, and writes a plain progress line every 10%
    on a long run when `err` is not a terminal."""

    def __init__(self, max_seconds: float | None, label: str, err: TextIO, lines: bool) -> None:
        self.started = time.monotonic()
        self.deadline = self.started + max_seconds if max_seconds else None
        self.signal: int | None = None
        self.err, self.lines, self.label = err, lines, label
        self._next_tenth = 1

    def __call__(self, k: int, n: int) -> None:
        """Before step `k` of `n` of an in-process run."""
        self.stop_if_asked(f"step {k:,} of {n:,}")
        self._line(k, n, f"step {k:,} of {n:,}")

    def poll(self, done: int, total: int) -> None:
        """While a cluster run waits: `done` of `total` paths have finished."""
        self.stop_if_asked(f"{done:,} of {total:,} paths (the cluster's tasks are cancelled)")
        self._line(done, total, f"{done:,} of {total:,} paths")

    def stop_if_asked(self, where: str) -> None:
        """RunStopped when a signal came or the deadline passed; `where` says how far it got."""
        if self.signal is not None:
            name = signal.Signals(self.signal).name
            raise RunStopped(f"stopped by {name} at {where}; nothing was written",
                             SIGNAL_EXIT.get(self.signal, 1))
        now = time.monotonic()
        if self.deadline is not None and now > self.deadline:
            raise RunStopped(f"stopped after {now - self.started:.3g} s (--max-seconds) at "
                             f"{where}; nothing was written", 1)

    def _line(self, k: int, n: int, where: str) -> None:
        if self.lines and n and k * 10 >= self._next_tenth * n:
            self._next_tenth = k * 10 // n + 1
            elapsed = time.monotonic() - self.started
            if elapsed >= PROGRESS_LINE_AFTER_S and k < n:
                left = elapsed * (n - k) / max(k, 1)
                self.err.write(f"{self.label}: {100 * k // n}% ({where}), "
                               f"{human_seconds(elapsed)} elapsed, about {human_seconds(left)} "
                               "left\n")
                self.err.flush()


@contextlib.contextmanager
def stop_on_signals(watch: Watch) -> Iterator[None]:
    """SIGINT and SIGTERM stop the run at the next step (main thread only; else unchanged)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        watch.signal = signum

    previous = {s: signal.signal(s, stop) for s in SIGNAL_EXIT}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
