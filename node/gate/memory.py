"""How much memory this process may still use: free RAM, its cgroup's limit, and its address-space limit.

A validator in a container sees the host's free RAM in `/proc/meminfo`, but the kernel kills it at
the cgroup's `memory.max`; a process under `RLIMIT_AS` fails its allocations at that limit. The
budget must respect the tightest of the three (cgroup v2 `memory.max - memory.current` over the
process's cgroup and its ancestors; cgroup v1 `memory.limit_in_bytes - memory.usage_in_bytes`).
"""

from __future__ import annotations

import resource
from pathlib import Path

import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max" (no limit) is not a number


def cgroup_remaining_bytes(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> int | None:
    """Bytes left before this process's cgroup (or an ancestor) hits its limit; None when unlimited."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    remaining: list[int] = []
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, group = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # cgroup v2 unified hierarchy
            folder = root / group.lstrip("/")
            while True:
                limit, current = _read_int(folder / "memory.max"), _read_int(folder / "memory.current")
                if limit is not None and current is not None:
                    remaining.append(max(0, limit - current))
                if folder == root or root not in folder.parents:
                    break
                folder = folder.parent
        elif "memory" in controllers.split(","):  # cgroup v1
            for folder in (root / "memory" / group.lstrip("/"), root / "memory"):
                limit = _read_int(folder / "memory.limit_in_bytes")
                usage = _read_int(folder / "memory.usage_in_bytes")
                if limit is not None and usage is not None and limit < 1 << 60:  # v1 "unlimited" is ~2^63
                    remaining.append(max(0, limit - usage))
                    break
    return min(remaining) if remaining else None


def address_space_remaining_bytes() -> int | None:
    """Bytes of address space left under RLIMIT_AS; None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    return max(0, soft - psutil.Process().memory_info().vms)


def available_memory_bytes() -> int:
    """The tightest of free RAM, the cgroup's remaining allowance and the address-space limit."""
    candidates = [psutil.virtual_memory().available, cgroup_remaining_bytes(), address_space_remaining_bytes()]
    return min(value for value in candidates if value is not None)
