"""Models kept loaded between evaluations in a long-lived evaluation process, bounded in bytes.

A validator evaluates its pool models every round: the same files, a few new samples and spot checks of
cached ones. Loading a model (and converting its dtype) can cost more than scoring a handful of samples, so
the worker keeps the most recently used models resident up to a byte cap. The key is the folder's real path
plus each file's name, size and modification time, the dtype, device and attention kernel: a model whose
files changed is a new key, never a stale hit. Off (cap 0) unless the caller asks for it.

A loaded model maps its safetensors files, so a resident model whose folder the store has since evicted (or
replaced) still holds that disk space: every lookup first drops the entries whose folder no longer holds the
files they were loaded from, so space the store freed on paper is freed on disk by the next evaluation.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

_models: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
loads = 0  # how many times a model was actually loaded (for tests and logs)


def folder_key(folder: str | Path, *extra: object) -> tuple:
    root = Path(folder).resolve()
    files = tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in os.scandir(root) if e.is_file()))
    return (str(root), files, *extra)


def get_or_load(key: tuple, nbytes: int, cap_bytes: int, load: Callable[[], Any]) -> Any:
    """The resident model for `key`, else `load()` (kept when `nbytes` fits `cap_bytes`, evicting LRU first)."""
    global loads
    drop_stale()
    if key in _models:
        _models.move_to_end(key)
        return _models[key][0]
    model = load()
    loads += 1
    if 0 < nbytes <= cap_bytes:
        while _models and sum(size for _, size in _models.values()) + nbytes > cap_bytes:
            _models.popitem(last=False)
        _models[key] = (model, nbytes)
    return model


def drop_stale() -> int:
    """Forget resident models whose folder is gone or holds other files now; returns how many were dropped."""
    stale = []
    for key in _models:
        try:
            current = folder_key(key[0])[1]
        except OSError:
            current = None
        if current != key[1]:
            stale.append(key)
    for key in stale:
        del _models[key]
    return len(stale)


def clear() -> None:
    _models.clear()
