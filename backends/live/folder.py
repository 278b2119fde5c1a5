"""The state folder of one (strategy, venue) and its lock: one runner at a time.

``--state DIR`` (default ``.rebal/<strategy>/<venue>/``) holds ``journal.sqlite`` (orders,
kernel state, halts, events) and ``lock``. The lock is an ``flock`` held for the life of a
``plan``/``apply``/``run`` process, so a second runner of the same pair is refused at once
instead of trading beside the first; the OS drops it when the process dies, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

__all__ = ["Locked", "StateFolder", "default_state_dir"]


class Locked(RuntimeError):
    """Another process holds the state folder's lock."""


def default_state_dir(strategy: str, venue: str, root: str | Path = ".rebal") -> Path:
    return Path(root) / strategy / venue


class StateFolder:
    """Paths inside the state folder, and its exclusive lock."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def journal(self) -> Path:
        return self.path / "journal.sqlite"

    @property
    def lock_file(self) -> Path:
        return self.path / "lock"

    def lock(self) -> StateFolder:
        """Take the lock or raise :class:`Locked` naming the holder's pid."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise Locked(f"{self.path} is in use by pid {holder}: one runner per strategy "
                         "and venue") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def unlock(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> StateFolder:
        return self.lock()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.unlock()
