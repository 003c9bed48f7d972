"""Reusable tensor buffers for the streaming pipeline.

Every fresh allocation of a few MB is returned to the OS when freed and page-faulted in again on
the next one; on a VM each 4 KiB fault costs microseconds, and growth allocates its whole output
size. A child has only a handful of distinct tensor sizes, so buffers released by the writer
thread are handed back to the builder: after the first layer, building does no page faults.
Large one-off buffers (the embedding) are not kept, so the pool's resident size stays small.
"""

from __future__ import annotations

import threading
from collections import defaultdict

import torch

MAX_POOLED_BYTES = 64 * 1024**2
MAX_PER_SIZE = 6


class BufferPool:
    def __init__(self, max_pooled_bytes: int = MAX_POOLED_BYTES) -> None:
        self.max_pooled_bytes = max_pooled_bytes
        self._free: dict[int, list[torch.Tensor]] = defaultdict(list)
        self._lock = threading.Lock()

    def empty(self, shape: list[int] | tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """Uninitialised contiguous tensor, from the pool when a buffer of that byte size is free."""
        count = 1
        for n in shape:
            count *= n
        nbytes = count * dtype.itemsize
        with self._lock:
            free = self._free.get(nbytes)
            flat = free.pop() if free else None
        if flat is None:
            flat = torch.empty(nbytes, dtype=torch.uint8)
        return flat.view(dtype).view(tuple(shape))

    def release(self, tensor: torch.Tensor) -> None:
        """Give a tensor's memory back; the caller must hold no other reference into it."""
        if not tensor.is_contiguous() or tensor.numel() == 0:
            return
        flat = tensor.reshape(-1).view(torch.uint8)
        if flat.numel() > self.max_pooled_bytes or flat.untyped_storage().nbytes() != flat.numel():
            return
        with self._lock:
            bucket = self._free[flat.numel()]
            if len(bucket) < MAX_PER_SIZE:
                bucket.append(flat)
