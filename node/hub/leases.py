"""In-use leases on stored models: `flock` locks that live exactly as long as the holding process.

A user holds a *shared* lock on a model's lease file while it uses the model; the evictor may delete a
model only while it holds the *exclusive* lock, taken without waiting. The kernel drops a process's locks
when it exits or crashes, so a lease can never outlive its holder and never needs cleaning up.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Lease:
    """A held shared lock on one model; `release()` (or leaving the `with` block) gives it back."""

    def __init__(self, lock_path: Path, path: Path) -> None:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fd: int | None = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_SH)
        except BaseException:
            os.close(self._fd)
            self._fd = None
            raise

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def try_exclusive(lock_path: Path) -> int | None:
    """An exclusive lock on `lock_path` if nobody holds any lock on it, else None (never waits)."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def release(fd: int) -> None:
    os.close(fd)
