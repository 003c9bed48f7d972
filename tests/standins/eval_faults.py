"""What a faulty evaluation does inside the worker process (importable by name, as spawn requires).

Each stands in for `node.evaluation.model_job.evaluate_model` on one model: it takes the same arguments and
never touches the model's files (no miner code runs, none is loaded).
"""

from __future__ import annotations

import os
import resource
import time


def hang(*_args, seconds: float = 600.0) -> None:
    """An evaluation that never finishes (a stalled load, a kernel that does not return)."""
    time.sleep(seconds)


def exhaust_memory(*_args, headroom_bytes: int = 256 << 20) -> None:
    """Run out of address space as a too-large model does: cap RLIMIT_AS a little above what the process maps
    now, then allocate past it (the allocation fails with MemoryError; nothing is left in use)."""
    with open("/proc/self/statm") as handle:
        mapped = int(handle.read().split()[0]) * resource.getpagesize()
    resource.setrlimit(resource.RLIMIT_AS, (mapped + headroom_bytes, resource.RLIM_INFINITY))
    blocks = []
    while True:
        blocks.append(bytearray(64 << 20))


def address_space_limit() -> tuple[int, int]:
    """This process's RLIMIT_AS soft limit and its pid."""
    return resource.getrlimit(resource.RLIMIT_AS)[0], os.getpid()
