"""Which committed models a round evaluates, in which order: pool, others' favourites, newcomers, revisits.

Per competition at most `limit` models (pool_size + pend_size unless configured):
1. `pool`: the previous round's pool, where the hotkey still commits the same pointer;
2. `priority`: models other validators weight highly (stake-weighted sum of their rows), so a validator that
   starts late converges on the same models as the network;
3. `new`: commitments never verified (or verified but never evaluated), oldest commit first: at least
   `pend_size` of them, more while the pool is not full;
4. `revisit`: verified models outside the pool not evaluated for `revisit_every` blocks, longest-unseen first.
Refused and discarded (hotkey, pointer) pairs are never selected again; a new commitment is a new pair.
The order of the result is the download order.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from node.chain.ranking import network_favourites

__all__ = ["Candidate", "History", "network_favourites", "select"]


@dataclass(frozen=True)
class Candidate:
    """A parsed commitment of a registered hotkey in a live competition."""

    hotkey: str
    uid: int | None
    pointer: str
    commit_block: int
    competition: str


@dataclass(frozen=True)
class History:
    """What this validator already knows about (hotkey, pointer) pairs."""

    pool: Collection[tuple[str, str]] = ()
    refused: Collection[tuple[str, str]] = ()
    discarded: Collection[tuple[str, str]] = ()
    verified: Collection[tuple[str, str]] = ()
    last_evaluated: Mapping[tuple[str, str], int] | None = None  # round block of the last evaluation


def select(candidates: Sequence[Candidate], history: History, *, favourites: Sequence[str], limit: int,
           pend_size: int, round_block: int, revisit_every: int) -> list[tuple[Candidate, str]]:
    """`[(candidate, role)]` for one competition, in download order."""
    def key(c: Candidate) -> tuple[str, str]:
        return (c.hotkey, c.pointer)

    blocked = set(history.refused) | set(history.discarded)
    usable = sorted((c for c in candidates if key(c) not in blocked), key=lambda c: (c.commit_block, c.hotkey))
    chosen: list[tuple[Candidate, str]] = []
    taken: set[tuple[str, str]] = set()

    def take(c: Candidate, role: str) -> None:
        if len(chosen) < limit and key(c) not in taken:
            chosen.append((c, role))
            taken.add(key(c))

    pool = set(history.pool)
    for c in usable:
        if key(c) in pool:
            take(c, "pool")
    by_hotkey = {c.hotkey: c for c in usable}
    for hotkey in favourites:
        if hotkey in by_hotkey and len(chosen) < limit:
            take(by_hotkey[hotkey], "priority")
    last = history.last_evaluated or {}
    fresh = [c for c in usable if key(c) not in last and key(c) not in taken]
    room_for_new = max(pend_size, limit - len(chosen))
    for c in fresh[:room_for_new]:
        take(c, "new")
    stale = [c for c in usable if key(c) in last and key(c) not in taken
             and round_block - last[key(c)] >= revisit_every]
    for c in sorted(stale, key=lambda c: (last[key(c)], c.commit_block, c.hotkey)):
        take(c, "revisit")
    return chosen
