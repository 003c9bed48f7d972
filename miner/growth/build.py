"""Build one child tensor: the parent's entries where the placement maps them, new entries initialised.

Axis maps come as runs (contiguous child ranges that are new, or copy a contiguous parent range),
so a tensor is assembled from a handful of slice copies and in-place fills: no index tensors, no
full-size temporaries beyond the output itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from node.lineage.placement import AxisMap

Fill = Callable[[torch.Tensor, str], None]


def build_tensor(
    parent: torch.Tensor | None,
    maps: Sequence[AxisMap],
    fill: Fill,
    dtype: torch.dtype,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """A tensor of shape `[len(m) for m in maps]`; `parent=None` means the whole tensor is new.
    `out` may supply the (contiguous, uninitialised) memory to build into."""
    if out is None:
        out = torch.empty([len(m) for m in maps], dtype=dtype)
    if parent is None:
        fill(out, "rows")
        return out
    expected = [m.parent_size for m in maps]
    if list(parent.shape) != expected:
        raise ValueError(f"parent tensor shape {tuple(parent.shape)} does not match the placement {expected}")
    if len(maps) == 1:
        for run in maps[0].runs():
            if run.parent_start is None:
                fill(out[run.start : run.stop], "rows")
            else:
                out[run.start : run.stop].copy_(parent[run.parent_start : run.parent_start + run.stop - run.start])
        return out
    if len(maps) != 2:
        raise ValueError(f"only 1-D and 2-D tensors are grown, got {len(maps)} axes")
    col_runs = maps[1].runs()
    for row in maps[0].runs():
        rows = out[row.start : row.stop]
        if row.parent_start is None:
            fill(rows, "rows")
            continue
        parent_rows = parent[row.parent_start : row.parent_start + row.stop - row.start]
        for col in col_runs:
            block = rows[:, col.start : col.stop]
            if col.parent_start is None:
                fill(block, "cols")
            else:
                block.copy_(parent_rows[:, col.parent_start : col.parent_start + col.stop - col.start])
    return out
