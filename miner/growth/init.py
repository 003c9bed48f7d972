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

Every random draw comes from a generator seeded by (plan seed, child tensor name), so a plan is
reproducible bit for bit regardless of the order tensors are built in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

import torch

from node.lineage.roles import Kind


class Strategy(StrEnum):
    EXACT = "exact"
    ZEROS = "zeros"
    NOISY = "noisy"


@dataclass(frozen=True)
class Initializer:
    strategy: Strategy
    seed: int
    std: float
    noise: float = 0.01

    def generator(self, tensor_name: str) -> torch.Generator:
        digest = hashlib.sha256(f"sn29-growth\x1f{self.seed}\x1f{tensor_name}".encode()).digest()
        return torch.Generator().manual_seed(int.from_bytes(digest[:8], "big") >> 1)

    def fill(self, view: torch.Tensor, kind: Kind, region: str, gen: torch.Generator) -> None:
        """Initialise `view` in place. `region` is "rows" (new along axis 0, or a whole new tensor)
        or "cols" (old rows, new columns)."""
        value = self._rule(kind, region)
        if value == "random":
            view.normal_(0.0, self.std, generator=gen)
        elif value == "noise":
            view.normal_(0.0, self.std * self.noise, generator=gen)
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
