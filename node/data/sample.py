"""What a held-out sample is, and the one interface every sample source implements.

Kept free of I/O and heavy imports so that the loss engine, the validator and the miner can all
depend on these types without pulling in HTTP, SQLite or tokenizers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Document:
    """One source document before chunking (a corpus line or a FineWeb row)."""

    id: str
    text: str
    source: str = ""
    title: str = ""


@dataclass(frozen=True)
class Sample:
    """One unit of evaluation: a stable id, the exact text scored, and where it came from.

    The id is what validators compare and store losses under, so it must mean the same text on
    every node: `<document id>#<chunk index>` for the corpus, `<config>:<split>:<row>` for FineWeb.
    """

    id: str
    text: str
    source: str


@runtime_checkable
class SampleSource(Protocol):
    """Anything that turns (seed, count) into the same samples on every node.

    Implementations must be deterministic functions of their construction arguments, the seed and
    the count (plus, for remote sources, the remote data itself): no unseeded randomness.
    """

    name: str

    def samples(self, seed: int, count: int) -> list[Sample]:
        """Return up to `count` samples picked by `seed`; fewer only if the source is exhausted."""
        ...
