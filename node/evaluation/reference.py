"""The naive reference method, kept as the yardstick the engine is measured and tested against:
one sample at a time, full fp32 logits, summed cross-entropy of tokens 2..n."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F


@torch.no_grad()
def naive_sample_losses(model, samples: Sequence[Sequence[int]]) -> list[float]:
    device = next(p for p in model.parameters() if p.device.type != "meta").device
    losses = []
    for sample in samples:
        if len(sample) < 2:
            losses.append(math.inf)
            continue
        ids = torch.tensor([list(sample)], device=device)
        logits = model(ids).logits[0, :-1].float()
        losses.append(F.cross_entropy(logits, ids[0, 1:], reduction="sum").item())
    return losses


def matmul_flops_per_second(size: int = 2048, repeats: int = 6, dtype: torch.dtype = torch.float32,
                            device: str = "cpu") -> float:
    """The machine's dense matmul throughput (best of `repeats`), the ceiling the engine is compared to."""
    import time

    a = torch.randn(size, size, dtype=dtype, device=device)
    b = torch.randn(size, size, dtype=dtype, device=device)
    best = math.inf
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        a @ b
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best
