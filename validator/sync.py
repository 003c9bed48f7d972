"""Reading the chain for one round: everything pinned to the round's anchor block, failures never drop a model.

Validators started at different times must see the same round, so every read is made at the round's block:
its hash (the seed), the metagraph (hotkey -> uid) and the commitments as they stood then. When the
commitments cannot be read after bounded retries, the last pointers this validator saw are used (and the
round says so): a transient RPC error never reads as "no commitment", the reference's way of losing a pool
model. Without the block hash or the metagraph a round cannot be planned at all; it is retried later.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from node.chain import Chain, ChainReadError
from node.chain.retry import RetryPolicy, call_with_retry
from node.chain.types import Commitment, Metagraph

log = logging.getLogger(__name__)

READ_POLICY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=4.0)


class RoundNotReady(RuntimeError):
    """The round's block hash or metagraph could not be read; try again later."""


@dataclass(frozen=True)
class RoundView:
    """The chain as the round sees it."""

    block: int
    block_hash: str
    metagraph: Metagraph
    commitments: dict[str, Commitment]
    other_weights: dict[int, dict[int, float]] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def _read(fn, what: str, sleep) -> object:
    return call_with_retry(fn, policy=READ_POLICY, is_transient=lambda e: isinstance(e, ChainReadError),
                           what=what, sleep=sleep)


def read_round_view(chain: Chain, block: int, known: dict[str, Commitment], *, my_uid: int | None = None,
                    sleep=None, on_error=None) -> RoundView:
    """Read the chain at `block`; `known` are the last known commitments (the fallback)."""
    import time

    sleep = sleep or time.sleep
    notes: list[str] = []
    try:
        block_hash = _read(lambda: chain.block_hash(block), "block_hash", sleep)
        metagraph = _read(lambda: chain.metagraph(block), "metagraph", sleep)
    except ChainReadError as err:
        if on_error:
            on_error("read")
        raise RoundNotReady(f"cannot read block {block}: {err}") from err
    try:
        commitments = _read(lambda: chain.commitments(block), "commitments", sleep)
    except ChainReadError as err:
        if on_error:
            on_error("read")
        registered = set(metagraph.hotkeys)
        commitments = {h: c for h, c in known.items() if h in registered and c.block <= block}
        notes.append(f"commitments unreadable ({err}); {len(commitments)} last known pointers used")
        log.warning("round %d: %s", block, notes[-1])
    try:
        weights = chain.weights()
    except ChainReadError as err:
        if on_error:
            on_error("read")
        weights = {}
        notes.append(f"weights of other validators unreadable ({err})")
    others = {v: row for v, row in weights.items() if v != my_uid}
    return RoundView(block, str(block_hash), metagraph, dict(commitments), others, tuple(notes))


def round_block(current_block: int, interval: int) -> int:
    """The anchor of the round `current_block` falls in: the last multiple of `interval` at or before it."""
    return current_block - current_block % interval
