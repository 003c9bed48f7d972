"""Where the node keeps its files. One place, so every command agrees."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

CACHE_ENV = "SN29_CACHE_DIR"


def cache_dir() -> Path:
    """Root of everything the node builds or downloads (`$SN29_CACHE_DIR`, else the user cache dir)."""
    configured = os.environ.get(CACHE_ENV)
    root = Path(configured).expanduser() if configured else Path(platformdirs.user_cache_dir("sn29-node"))
    return root.resolve()
