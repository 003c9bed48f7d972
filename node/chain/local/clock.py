"""The embedded chain's block clock and deterministic block hashes."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

DEFAULT_BLOCK_TIME = 12.0


@dataclass(frozen=True)
class BlockClock:
    """`block = offset + floor((now - genesis_time) / block_time)`; with `block_time == 0` only `offset`.

    Derived from wall time rather than produced by a daemon, so no process has to "run the chain": every
    process computes the same block from the shared genesis time. Tests use `block_time = 0` and move
    the clock by hand (`advance`), which every process sees because the offset lives in the file.
    """

    genesis_time: float
    block_time: float
    offset: int

    def block_at(self, now: float) -> int:
        if self.block_time <= 0:
            return self.offset
        return self.offset + max(0, math.floor((now - self.genesis_time) / self.block_time))


def block_hash(genesis_seed: str, block: int) -> str:
    """`0x` + sha256(seed || block as 8 big-endian bytes).

    Deterministic for every process sharing the file, different per network (random seed at `init`),
    and O(1) for any block: a hash chain would give the same determinism but cost O(block) per lookup.
    """
    if block < 0:
        raise ValueError("negative block")
    digest = hashlib.sha256(bytes.fromhex(genesis_seed) + block.to_bytes(8, "big")).hexdigest()
    return "0x" + digest
