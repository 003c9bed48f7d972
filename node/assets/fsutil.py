"""File helpers for the asset build: atomic installs, so a killed build never leaves a half-written asset.

Hashing and atomic writes are the node's one helper each (`node.identity.sha256_file`,
`node.hub.fsutil.write_atomic`), re-exported here for the builder's modules.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from node.hub.fsutil import write_atomic
from node.identity.hashing import sha256_file

__all__ = ["CHUNK", "install_file", "install_tree", "sha256_file", "write_bytes_atomic"]

CHUNK = 1 << 20


def _fsync(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write via a temp file in the same folder and rename: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


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
