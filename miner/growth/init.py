"""How new weights are initialised, by what they do (see `node.lineage.roles`).

Strategies:

* `exact` (default): new *readers* are random at the model's own init scale
  (`config.initializer_range`), new *writers* into the residual stream are zero, new norm gains are
  one. The child computes exactly the parent's function, and gradients reach every new weight: a
  writer's gradient is (upstream gradient) x (its random reader's activation), and once a writer
  moves, its readers get gradient too.
* `zeros`: every new entry zero (the naive padding of the norm_divisor post). Exact, but new units
  are dead: zero readers give zero activations, so their writers get no gradient.
* `noisy`: as exact, but writers get small random values (std = `noise` x initializer_range): a
  small loss penalty (measured by verify-growth) in exchange for symmetric-breaking writers.

Randomness: each child tensor has its own `RandomStream`, seeded by (plan seed, tensor name); each
fill draws from generators derived from (that seed, fill number, chunk number). Large fills are
split into two fixed chunks drawn on two threads (normal sampling dominates growth time). The
values depend only on the plan, never on thread timing or the order tensors are built in.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum

import torch

from node.lineage.roles import Kind

from .buffers import BufferPool

PARALLEL_MIN_ELEMENTS = 1 << 17
_HELPER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="growth-rng")


class Strategy(StrEnum):
    EXACT = "exact"
    ZEROS = "zeros"
    NOISY = "noisy"


def _seed(*parts: object) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in ("sn29-growth", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class RandomStream:
    """Generators for one tensor: a new, independently seeded one per (fill, chunk)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.fills = 0

    def generators(self, chunks: int) -> list[torch.Generator]:
        self.fills += 1
        return [torch.Generator().manual_seed(_seed(self.seed, self.fills, c)) for c in range(chunks)]


@dataclass(frozen=True)
class Initializer:
    strategy: Strategy
    seed: int
    std: float
    noise: float = 0.01
    pool: BufferPool | None = field(default=None, compare=False)

    def stream(self, tensor_name: str) -> RandomStream:
        return RandomStream(_seed(self.seed, tensor_name))

    def fill(self, view: torch.Tensor, kind: Kind, region: str, stream: RandomStream) -> None:
        """Initialise `view` in place. `region` is "rows" (new along axis 0, or a whole new tensor)
        or "cols" (old rows, new columns)."""
        value = self._rule(kind, region)
        if value in ("random", "noise"):
            std = self.std if value == "random" else self.std * self.noise
            self._normal(view, std, stream)
        else:
            view.fill_(value)

    def _rule(self, kind: Kind, region: str) -> str | float:
        zeros = self.strategy == Strategy.ZEROS
        writer = "noise" if self.strategy == Strategy.NOISY else 0.0
        if kind == Kind.READER:
            return 0.0 if zeros else "random"
        if kind == Kind.READER_BIAS:
            return 0.0
        if kind == Kind.NORM:
            return 0.0 if zeros else 1.0
        if kind in (Kind.WRITER, Kind.EMBED):
            return writer
        if kind == Kind.HEAD:  # new rows are new tokens' logits; new columns read new dimensions
            if region == "rows":
                return writer
            return 0.0 if zeros else "random"
        raise ValueError(f"unknown tensor kind {kind}")

    def _normal(self, view: torch.Tensor, std: float, stream: RandomStream) -> None:
        """In-place N(0, std). A strided view (new columns of old rows) is drawn into a contiguous
        buffer and copied: ~6x faster than `normal_` on the view itself."""
        target = view
        if not view.is_contiguous():
            target = self.pool.empty(view.shape, view.dtype) if self.pool else torch.empty(view.shape, dtype=view.dtype)
        flat = target.view(-1)
        parts = 2 if flat.numel() >= PARALLEL_MIN_ELEMENTS else 1
        chunks = flat.chunk(parts)
        gens = stream.generators(parts)
        pending = _HELPER.submit(chunks[1].normal_, 0.0, std, generator=gens[1]) if parts == 2 else None
        chunks[0].normal_(0.0, std, generator=gens[0])
        if pending is not None:
            pending.result()
        if target is not view:
            view.copy_(target)
            if self.pool:
                self.pool.release(target)
