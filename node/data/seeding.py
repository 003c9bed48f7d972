"""Seeds and deterministic choices, all by hashing.

Every validator must pick the same samples for the same block, on any Python version and any
machine. `random.Random` is seeded-deterministic, but some of its helpers (sample, choice,
randrange) have changed algorithm between Python releases; SHA-256 has not. So every choice in
`node.data` is made by hashing a domain tag, the seed and a label, never by a PRNG stream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

_SEED_TAG = b"sn29/seed/v1"
_DERIVE_TAG = "sn29/derive/v1"
_RANK_TAG = "sn29/rank/v1"


def _u64(data: bytes) -> int:
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "big")


def seed_from_block_hash(hash_hex: str) -> int:
    """Map a block hash (hex, optional `0x`) to a 64-bit seed.

    Re-hashed with a domain tag so that the seed is independent of any other use of the same
    block hash (e.g. a commit-reveal salt). Raises ValueError for anything that is not hex.
    """
    text = hash_hex.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not text or len(text) % 2 or len(text) > 128:
        raise ValueError(f"not a block hash: {hash_hex!r}")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise ValueError(f"not a block hash: {hash_hex!r}") from exc
    return _u64(_SEED_TAG + raw)


def derive_seed(seed: int, *labels: str | int) -> int:
    """A 64-bit sub-seed for one purpose (e.g. `derive_seed(seed, "page", 3)`)."""
    parts = [_DERIVE_TAG, str(int(seed)), *(f"{type(x).__name__}:{x}" for x in labels)]
    return _u64("\x1f".join(parts).encode())


def rank_key(seed: int, item_id: str) -> bytes:
    """Sort key of `item_id` under `seed`: a uniformly random but reproducible order."""
    return hashlib.sha256(f"{_RANK_TAG}\x1f{int(seed)}\x1f{item_id}".encode()).digest()


def select_ids(ids: Iterable[str], seed: int, count: int) -> list[str]:
    """The `count` ids with the smallest rank under `seed`, in rank order.

    Ranking each id independently (rather than shuffling a list) means the choice does not depend
    on the order ids are listed in, and adding new ids never reorders the old ones relative to
    each other: a grown corpus changes a pick only where a new id ranks in.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    unique = set(ids)
    return sorted(unique, key=lambda i: rank_key(seed, i))[:count]


def uniform_index(seed: int, n: int, *labels: str | int) -> int:
    """A reproducible integer in [0, n); modulo bias is below n / 2**64, negligible."""
    if n <= 0:
        raise ValueError("n must be positive")
    return derive_seed(seed, *labels) % n
