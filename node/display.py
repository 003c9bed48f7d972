"""How the operator tools (validator status and report, miner status) spell things, in one place so they agree:
short hotkeys and pointers, ages, numbers."""

from __future__ import annotations

import math

from node.identity import read_pointer


def short_hotkey(hotkey: str | None) -> str:
    """`5F3sa2…kQ9x`: enough to tell hotkeys apart at a glance (the full one is in `--json`)."""
    if not hotkey:
        return "-"
    return hotkey if len(hotkey) <= 12 else f"{hotkey[:6]}…{hotkey[-4:]}"


def short_pointer(pointer: str | None) -> str:
    """`namespace/name@commit8`; a string that is not a pointer is shown cut to 40 characters."""
    if not pointer:
        return "-"
    parsed = read_pointer(pointer)
    if parsed.ok:
        p = parsed.pointer
        return f"{p.namespace}/{p.name}@{p.commit[:8]}"
    return pointer if len(pointer) <= 40 else pointer[:39] + "…"


def age(seconds: float | None) -> str:
    """`42s`, `7m 3s`, `5h 12m`, `3d 4h`."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def number(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def parameters(value: int | None) -> str:
    """`135.0M`, `1.2B`, `900k`."""
    if value is None:
        return "-"
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= size:
            return f"{value / size:.1f}{unit}"
    return str(value)
