"""`scan_finite`: NaN / inf in the weights, found by reading one bounded block of one tensor at a time.

A model whose weights hold NaN produces NaN losses (the reference let such a model win every
comparison); finding it from the weights costs one pass over the files and memory for one block.
The folder is gated first, so every tensor read here has been checked against its header and config.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from safetensors import safe_open

from node.refusal import RefusalKind, Refused

from .check import check_model_dir
from .limits import MIB, ModelLimits

BLOCK_BYTES = 16 * MIB


def scan_finite(path: str | os.PathLike[str], limits: ModelLimits = ModelLimits(),  # noqa: B008
                *, block_bytes: int = BLOCK_BYTES) -> None:
    """Raise Refused(NON_FINITE) naming the first tensor holding NaN or inf."""
    checked = check_model_dir(path, limits)
    root = Path(path)
    by_shard: dict[str, list] = {}
    for meta in checked.tensors:
        by_shard.setdefault(meta.shard, []).append(meta)
    for shard, metas in sorted(by_shard.items()):
        with safe_open(root / shard, framework="pt", device="cpu") as handle:
            for meta in metas:
                if meta.numel == 0:
                    continue
                view = handle.get_slice(meta.name)
                row_numel = math.prod(meta.shape[1:]) if len(meta.shape) > 1 else 1
                rows = meta.shape[0] if meta.shape else 1
                step = max(1, block_bytes // (row_numel * 4))
                for begin in range(0, rows, step):
                    block = view[begin : begin + step] if meta.shape else view[:]
                    # a float64 sum is finite exactly when every element is (it cannot overflow from float32
                    # range values), and is cheaper than an elementwise isfinite on bf16
                    if not bool(torch.isfinite(block.sum(dtype=torch.float64))):
                        bad = int((~torch.isfinite(block.float())).sum())
                        raise Refused(RefusalKind.NON_FINITE, f"{meta.name} holds {bad} NaN/inf value(s) in rows "
                                      f"{begin}..{begin + block.shape[0] if block.dim() else 1}")
