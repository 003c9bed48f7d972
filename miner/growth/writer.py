"""Streaming safetensors writer: tensors go to disk one at a time, in a planned order.

`safetensors.torch.save_file` needs a whole shard in memory (and copies it once more while
serialising). Growth knows every child tensor's name, shape and dtype before building any of them,
so each shard's header can be written first and each tensor's bytes appended as soon as it exists.
A background thread does the writing, so building the next tensor (random init, copies) overlaps
the disk I/O; the queue between them holds at most two tensors, which bounds memory.
"""

from __future__ import annotations

import json
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import torch

from .buffers import BufferPool

DTYPE_CODES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.float64: "F64"}
INDEX_FILE = "model.safetensors.index.json"
_DONE = object()


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        count = 1
        for n in self.shape:
            count *= n
        return count * self.dtype.itemsize


def plan_shards(specs: list[TensorSpec], max_shard_bytes: int) -> list[list[TensorSpec]]:
    """Consecutive groups of at most `max_shard_bytes` (a larger single tensor gets its own shard)."""
    shards: list[list[TensorSpec]] = []
    current: list[TensorSpec] = []
    size = 0
    for spec in specs:
        if current and size + spec.nbytes > max_shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(spec)
        size += spec.nbytes
    if current:
        shards.append(current)
    return shards


def shard_name(number: int, total: int) -> str:
    return f"model-{number:05d}-of-{total:05d}.safetensors"


def _header(specs: list[TensorSpec]) -> bytes:
    entries: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for spec in specs:
        entries[spec.name] = {"dtype": DTYPE_CODES[spec.dtype], "shape": list(spec.shape),
                              "data_offsets": [offset, offset + spec.nbytes]}
        offset += spec.nbytes
    raw = json.dumps(entries, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keep tensor data 8-byte aligned, as safetensors itself does
    return len(raw).to_bytes(8, "little") + raw


class ShardWriter:
    """`put(name, tensor)` in the planned order, then `finish()` for the index dict."""

    def __init__(self, folder: Path, shards: list[list[TensorSpec]], pool: BufferPool | None = None) -> None:
        self.folder = Path(folder)
        self.pool = pool
        self.shards = shards
        self.order = [(i, spec) for i, shard in enumerate(shards) for spec in shard]
        self.position = 0
        self.queue: queue.Queue = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="shard-writer", daemon=True)
        self.thread.start()

    def put(self, name: str, tensor: torch.Tensor) -> None:
        if self.error is not None:
            raise RuntimeError("shard writer failed") from self.error
        shard, spec = self.order[self.position]
        if name != spec.name or tuple(tensor.shape) != spec.shape or tensor.dtype != spec.dtype:
            raise ValueError(f"tensor {name} {tuple(tensor.shape)} {tensor.dtype} does not match the plan: {spec}")
        self.position += 1
        self.queue.put((shard, spec, tensor.contiguous()))

    def finish(self) -> dict:
        self.queue.put(_DONE)
        self.thread.join()
        if self.error is not None:
            raise RuntimeError("shard writer failed") from self.error
        if self.position != len(self.order):
            raise RuntimeError(f"only {self.position} of {len(self.order)} planned tensors were written")
        total = len(self.shards)
        weight_map = {spec.name: shard_name(i + 1, total) for i, shard in enumerate(self.shards) for spec in shard}
        size = sum(spec.nbytes for shard in self.shards for spec in shard)
        return {"metadata": {"total_size": size}, "weight_map": weight_map}

    def abort(self) -> None:
        """Stop the thread after a failure on the producer side (partial files stay; the caller removes them)."""
        if self.thread.is_alive():
            self.queue.put(_DONE)
            self.thread.join()

    def _run(self) -> None:
        handle: BinaryIO | None = None
        current = -1
        try:
            while (item := self.queue.get()) is not _DONE:
                shard, spec, tensor = item
                if shard != current:
                    if handle:
                        handle.close()
                    current = shard
                    handle = open(self.folder / shard_name(shard + 1, len(self.shards)), "wb")  # noqa: SIM115
                    handle.write(_header(self.shards[shard]))
                handle.write(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()))
                del item
                if self.pool is not None:
                    self.pool.release(tensor)
                del tensor
        except BaseException as exc:  # surfaced to the producer by put()/finish()
            self.error = exc
            while self.queue.get() is not _DONE:
                pass
        finally:
            if handle:
                handle.close()
