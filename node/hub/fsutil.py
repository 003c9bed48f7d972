"""Small filesystem primitives for multi-process safety: atomic writes, hashing copies, locks."""

from __future__ import annotations

import fcntl
import hashlib
import os
import stat
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHUNK = 1 << 20


def temp_path(folder: Path, stem: str = "tmp") -> Path:
    """A unique path in `folder` (same filesystem as the target, so `os.replace` is atomic)."""
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f".{stem}.{os.getpid()}.{uuid.uuid4().hex}"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the whole new one, never a torn one."""
    tmp = temp_path(path.parent, path.name)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def create_once(path: Path, data: bytes) -> bool:
    """Create `path` with `data` atomically unless it exists; True if this call created it.

    `os.link` fails if the target exists, so two processes racing to create the same immutable file
    cannot overwrite each other.
    """
    tmp = temp_path(path.parent, path.name)
    try:
        tmp.write_bytes(data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def open_regular_file(path: Path):
    """Open `path` for reading only if it is a regular file, without following a symlink and without
    blocking (a FIFO put in its place would make a plain `open` wait forever, past any deadline).
    `IntegrityError` otherwise; `FileNotFoundError` passes through."""
    from node.hub.errors import IntegrityError

    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise IntegrityError(f"{path.name} cannot be opened safely ({err.strerror}); links are not followed") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise IntegrityError(f"{path.name} is not a regular file (mode {stat.filemode(mode)})")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def copy_hashing(
    src: Path, dst: Path, *, deadline: float | None = None, limit: int | None = None
) -> tuple[str, int]:
    """Copy `src` (a regular file, see `open_regular_file`) to `dst` (fsync'd) and return (sha256 hex, size)
    of the bytes actually copied; the deadline is checked before opening and after every chunk."""
    from node.hub.errors import DownloadTimeoutError, TooLargeError

    if deadline is not None and time.monotonic() > deadline:
        raise DownloadTimeoutError(f"copying {src.name} passed its deadline")
    digest = hashlib.sha256()
    size = 0
    with open_regular_file(src) as reader, open(dst, "wb") as writer:
        while chunk := reader.read(CHUNK):
            size += len(chunk)
            if limit is not None and size > limit:
                raise TooLargeError(f"{src.name} grew beyond {limit} bytes while copying")
            if deadline is not None and time.monotonic() > deadline:
                raise DownloadTimeoutError(f"copying {src.name} passed its deadline")
            digest.update(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest(), size


@contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """A blocking `flock` on `path` (created if needed), released when the block ends or the process dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
