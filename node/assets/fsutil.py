"""File helpers: hashing and atomic installs, so a killed build never leaves a half-written asset."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

CHUNK = 1 << 20


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks (model files are hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def install_file(src: Path, dest: Path) -> None:
    """Move a finished file into place atomically (src must be on the same filesystem).

    Mode 0644 because some writers (safetensors) create 0600 files, which other users of a shared
    cache could not read.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    _fsync(src)
    os.chmod(src, 0o644)
    os.replace(src, dest)


def install_tree(staging: Path, dest_root: Path) -> list[Path]:
    """Move every file under `staging` to the same relative place under `dest_root`; returns the dests.

    Files are renamed one by one, never the folder, so nothing already in `dest_root` is deleted.
    """
    installed = []
    for src in sorted(p for p in staging.rglob("*") if p.is_file()):
        dest = dest_root / src.relative_to(staging)
        install_file(src, dest)
        installed.append(dest)
    return installed


def remove_tree(path: Path) -> None:
    """Delete one of our own scratch folders (never called on user or output paths)."""
    shutil.rmtree(path, ignore_errors=True)
