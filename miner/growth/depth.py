"""Depth bookkeeping: which parent layer (if any) each child position copies, and which copies stay live.

Stacking copies of trained layers changes the function: each copy adds its update to the residual
stream again. The loss is unchanged only if exactly one copy of each parent position keeps its
writers (`o_proj`, `down_proj`) and those live copies run in the parent's order; every other
position must write nothing. `assign_live` picks the live copies greedily (first occurrence in
order), which works for G_stack, interpolation and every partial-stacking pattern of the paper.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Slot:
    """One child position. `source` is a parent executed position, None for a fresh layer.

    `copy_writers` keeps a duplicate's trained writers (the paper's G_stack as published); the
    default zeroes them (or applies the init strategy), which makes the duplicate an identity.
    """

    source: int | None
    copy_writers: bool = False


@dataclass(frozen=True)
class PlacedSlot:
    """A slot after live assignment: `live` copies carry the parent layer unchanged."""

    source: int | None
    live: bool
    copy_writers: bool


def assign_live(slots: list[Slot], parent_positions: int) -> tuple[list[PlacedSlot], list[str]]:
    """Mark the live copy of each parent position; returns the placed slots and exactness notes."""
    placed: list[PlacedSlot] = []
    wanted = 0
    for slot in slots:
        live = slot.source is not None and slot.source == wanted
        if live:
            wanted += 1
        placed.append(PlacedSlot(slot.source, live, slot.copy_writers))
    notes: list[str] = []
    if wanted < parent_positions:
        notes.append(
            f"depth plan does not run parent layers 0..{parent_positions - 1} in order (stops at {wanted}); "
            "the child cannot compute the parent's function"
        )
        # Without a valid live chain, keep every copy's writers: the honest "copied" model.
        placed = [replace(p, live=p.source is not None) for p in placed]
    copied = [i for i, p in enumerate(placed) if p.source is not None and not p.live and p.copy_writers]
    if copied:
        notes.append(f"positions {_short(copied)} duplicate trained layers with their writers (not an identity)")
    return placed, notes


def _short(items: list[int], limit: int = 8) -> str:
    text = ",".join(str(i) for i in items[:limit])
    return text + (f",... ({len(items)} in all)" if len(items) > limit else "")
