"""Text notation for depth growth: which existing layer runs at each new position.

Grammar accepted by `--layers` (whitespace ignored)::

    spec  := item ("," item)*
    item  := atom ("*" COUNT)?          repeat the atom COUNT times
    atom  := INDEX                      one layer (0-based)
           | INDEX "-" INDEX            an inclusive ascending range of layers
           | "_"                        a fresh identity layer (random readers, zero writers)

Example: a 6-layer model, `0-1,2-5*3,4-5` -> [0,1, 2,3,4,5, 2,3,4,5, 2,3,4,5, 4,5] (18 layers).

The G_stack paper ("Stacking Your Transformers", Du et al. 2024) writes partial stacking as blocks of
1-based single-digit layer ids joined by "-", e.g. `12-3456*5-56` for a 6-layer model. That form is
accepted with a `paper:` prefix: `paper:12-3456*5-56` == `0-1,2-5*5,4-5` (24 layers). The prefix is
required because `1-5` means different things in the two notations.
"""

from __future__ import annotations

import re

FRESH = None
_ITEM = re.compile(r"^(?:(?P<fresh>_)|(?P<a>\d+)(?:-(?P<b>\d+))?)(?:\*(?P<n>\d+))?$")
_PAPER_BLOCK = re.compile(r"^(?P<ids>[1-9]+)(?:\*(?P<n>\d+))?$")


class LayerSpecError(ValueError):
    """A malformed or out-of-range layer specification."""


def parse_layer_spec(spec: str, num_layers: int) -> list[int | None]:
    """Positions of the new stack: an existing layer index per position, or None for a fresh layer."""
    text = re.sub(r"\s+", "", spec)
    if text.startswith("paper:"):
        return parse_paper_spec(text.removeprefix("paper:"), num_layers)
    if not text:
        raise LayerSpecError("empty layer spec")
    out: list[int | None] = []
    for item in text.split(","):
        match = _ITEM.match(item)
        if not match:
            raise LayerSpecError(f"bad item {item!r} in layer spec {spec!r} (expected N, A-B or _, optionally *K)")
        count = int(match["n"]) if match["n"] is not None else 1
        if count < 1:
            raise LayerSpecError(f"repeat count must be >= 1 in {item!r}")
        if match["fresh"]:
            atom: list[int | None] = [FRESH]
        else:
            a = int(match["a"])
            b = int(match["b"]) if match["b"] is not None else a
            if b < a:
                raise LayerSpecError(f"range {item!r} must be ascending")
            if b >= num_layers:
                raise LayerSpecError(f"layer {b} in {item!r} does not exist (the model has {num_layers})")
            atom = list(range(a, b + 1))
        out.extend(atom * count)
    return out


def parse_paper_spec(spec: str, num_layers: int) -> list[int | None]:
    """The paper's notation: `-`-joined blocks of 1-based digits, each optionally `*K`."""
    if num_layers > 9:
        raise LayerSpecError(f"paper notation names layers by single digits; the model has {num_layers} layers")
    out: list[int | None] = []
    for block in re.split(r"[-·]", spec):
        match = _PAPER_BLOCK.match(block)
        if not match:
            raise LayerSpecError(f"bad block {block!r} in paper spec {spec!r}")
        ids = [int(c) - 1 for c in match["ids"]]
        if max(ids) >= num_layers:
            raise LayerSpecError(f"layer {max(ids) + 1} in {block!r} does not exist (the model has {num_layers})")
        out.extend(ids * (int(match["n"]) if match["n"] else 1))
    return out


def format_layer_spec(positions: list[int | None]) -> str:
    """Compact spec for a position list (ascending runs become ranges); inverse of `parse_layer_spec`."""
    items: list[str] = []
    i = 0
    while i < len(positions):
        if positions[i] is FRESH:
            items.append("_")
            i += 1
            continue
        j = i
        while j + 1 < len(positions) and positions[j + 1] is not None and positions[j + 1] == positions[j] + 1:
            j += 1
        items.append(str(positions[i]) if i == j else f"{positions[i]}-{positions[j]}")
        i = j + 1
    return ",".join(items)
