"""Lazy access to a checkpoint: names, shapes and dtypes from headers, data one tensor at a time.

Each read opens the shard with `safe_open` and closes it again, so the pages of the memory map that
a read touched are released and resident memory never accumulates a whole parent shard.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from transformers_growable.checkpoint import tensor_locations

SAFETENSORS_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16, "F64": torch.float64}


class LazyCheckpoint:
    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.locations = tensor_locations(self.folder)
        self.meta: dict[str, tuple[tuple[int, ...], torch.dtype]] = {}
        for shard in sorted(set(self.locations.values())):
            with safe_open(shard, framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 (safe_open has no __iter__)
                    view = handle.get_slice(name)
                    code = view.get_dtype()
                    if code not in SAFETENSORS_DTYPES:
                        raise ValueError(f"{name}: dtype {code} is not a float type growth can handle")
                    self.meta[name] = (tuple(view.get_shape()), SAFETENSORS_DTYPES[code])

    @property
    def names(self) -> list[str]:
        return list(self.locations)

    def dtype(self, name: str) -> torch.dtype:
        return self.meta[name][1]

    def read(self, name: str) -> torch.Tensor:
        with safe_open(self.locations[name], framework="pt", device="cpu") as handle:
            return handle.get_tensor(name)

    def largest_shard_bytes(self) -> int:
        return max(path.stat().st_size for path in set(self.locations.values()))
