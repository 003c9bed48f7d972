"""A model folder's files, seen without trusting them: regular files only, opened without following links.

`os.scandir` + `lstat` list the folder without following any link; a file is then opened with
`O_NOFOLLOW | O_NONBLOCK` and checked with `fstat` on the open descriptor, so a symlink, a FIFO
(whose `open` would block forever), a device or a file swapped in between the listing and the
read is refused as UNSAFE_FILE instead of being followed, waited on or read.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from node.identity.files import FileNameError, check_file_name
from node.refusal import RefusalKind, Refused

from .limits import ModelLimits

# Formats that execute code when loaded (pickles, Python, native libraries) are never accepted in a model folder.
FORBIDDEN_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".h5", ".msgpack", ".npy", ".npz",
                      ".py", ".pyc", ".so", ".dylib", ".dll", ".gguf", ".onnx")
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


@dataclass(frozen=True)
class FolderListing:
    """The regular files of a model folder (name -> size in bytes)."""

    root: Path
    sizes: dict[str, int]

    @property
    def total_bytes(self) -> int:
        return sum(self.sizes.values())


def _kind_of(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def list_folder(path: str | os.PathLike[str], limits: ModelLimits) -> FolderListing:
    """Every top-level entry checked from `lstat` alone; sub-folders are not part of a model and are skipped."""
    root = Path(path)
    try:
        root_mode = os.lstat(root).st_mode
    except FileNotFoundError:
        raise Refused(RefusalKind.BAD_CONFIG, f"no config.json: model folder {root} does not exist") from None
    except OSError as exc:
        raise Refused(RefusalKind.UNSAFE_FILE, f"model folder {root}: {exc.strerror}") from None
    if not stat.S_ISDIR(root_mode):
        raise Refused(RefusalKind.UNSAFE_FILE, f"{root} is {_kind_of(root_mode)}, not a folder")
    sizes: dict[str, int] = {}
    count = 0
    with os.scandir(root) as entries:
        for entry in entries:
            count += 1
            if count > limits.max_files:
                raise Refused(RefusalKind.FILE_TOO_LARGE, f"{root} holds more than {limits.max_files} entries")
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISDIR(mode):
                continue
            if not stat.S_ISREG(mode):
                raise Refused(RefusalKind.UNSAFE_FILE, f"{entry.name!r} is {_kind_of(mode)}; only regular files "
                              "are accepted in a model folder")
            if entry.name.lower().endswith(FORBIDDEN_SUFFIXES):
                raise Refused(RefusalKind.FORBIDDEN_FILE, f"{entry.name!r}: pickled weights and code are never "
                              "accepted (safetensors and tokenizer.json only)")
            try:
                check_file_name(entry.name)
            except FileNameError as exc:
                raise Refused(RefusalKind.UNSAFE_FILE, str(exc)) from None
            size = entry.stat(follow_symlinks=False).st_size
            if size > limits.max_file_bytes:
                raise Refused(RefusalKind.FILE_TOO_LARGE, f"{entry.name} is {size} bytes; the limit per file is "
                              f"{limits.max_file_bytes}")
            sizes[entry.name] = size
    listing = FolderListing(root, sizes)
    if limits.max_total_bytes is not None and listing.total_bytes > limits.max_total_bytes:
        raise Refused(RefusalKind.FILE_TOO_LARGE, f"the model's files are {listing.total_bytes} bytes; the "
                      f"competition allows {limits.max_total_bytes}")
    return listing


def open_regular(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(descriptor, size) of a regular file opened without following links or blocking; UNSAFE_FILE otherwise."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError as exc:
        reason = "is a symlink" if exc.errno == errno.ELOOP else exc.strerror  # O_NOFOLLOW met a link
        raise Refused(RefusalKind.UNSAFE_FILE, f"{Path(path).name}: {reason}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise Refused(RefusalKind.UNSAFE_FILE, f"{Path(path).name} is {_kind_of(info.st_mode)}")
    os.set_blocking(fd, True)  # regular files never block; reads below expect whole chunks
    return fd, info.st_size


def read_exact(fd: int, offset: int, length: int, what: str) -> bytes:
    """`length` bytes at `offset`, or BAD_SAFETENSORS if the file is shorter."""
    data = os.pread(fd, length, offset)
    if len(data) != length:
        raise Refused(RefusalKind.BAD_SAFETENSORS, f"{what}: file ends after {offset + len(data)} bytes")
    return data


def read_limited(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """A whole regular file of at most `max_bytes` (checked on the descriptor and on the bytes read)."""
    fd, size = open_regular(path)
    try:
        if size > max_bytes:
            raise Refused(RefusalKind.FILE_TOO_LARGE, f"{Path(path).name} is {size} bytes; the limit is {max_bytes}")
        data = os.pread(fd, max_bytes + 1, 0)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise Refused(RefusalKind.FILE_TOO_LARGE, f"{Path(path).name} grew past {max_bytes} bytes while read")
    return data
