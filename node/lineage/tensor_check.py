"""Does one child tensor contain its parent tensor where the placement says, with new writers zero?"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .placement import AxisMap
from .roles import Role

MAX_ISSUES_PER_TENSOR = 1


def check_tensor(name: str, parent: torch.Tensor, child: torch.Tensor, maps: Sequence[AxisMap], role: Role,
                 *, require_zero: bool = True) -> list[str]:
    """Issues (empty: fine). Parent blocks are compared after casting to the child's dtype, so a
    widening dtype conversion is exact and a narrowing one is judged by its rounding only."""
    expected = [len(m) for m in maps]
    if list(child.shape) != expected:
        return [f"{name}: shape {list(child.shape)} != expected {expected}"]
    parent = parent.to(child.dtype)
    if len(maps) == 1:
        return _check_1d(name, parent, child, maps[0], role.zero_new_rows and require_zero)
    issues: list[str] = []
    col_runs = maps[1].runs()
    for row in maps[0].runs():
        rows = child[row.start : row.stop]
        if row.parent_start is None:
            if role.zero_new_rows and require_zero and rows.any():
                issues.append(f"{name}: new rows {row.start}:{row.stop} write into the residual stream (non-zero)")
            continue
        parent_rows = parent[row.parent_start : row.parent_start + row.stop - row.start]
        for col in col_runs:
            block = rows[:, col.start : col.stop]
            if col.parent_start is None:
                if role.zero_new_cols and require_zero and block.any():
                    issues.append(f"{name}: rows {row.start}:{row.stop}, new columns {col.start}:{col.stop} "
                                  "are non-zero (they write new units into the residual stream)")
            elif not torch.equal(block, parent_rows[:, col.parent_start : col.parent_start + col.stop - col.start]):
                issues.append(f"{name}: rows {row.start}:{row.stop} x columns {col.start}:{col.stop} differ from "
                              f"the parent's rows {row.parent_start}.. x columns {col.parent_start}..")
        if len(issues) >= MAX_ISSUES_PER_TENSOR:
            break
    return issues[:MAX_ISSUES_PER_TENSOR]


def _check_1d(name: str, parent: torch.Tensor, child: torch.Tensor, axis: AxisMap, zero_new: bool) -> list[str]:
    for run in axis.runs():
        part = child[run.start : run.stop]
        if run.parent_start is None:
            if zero_new and part.any():
                return [f"{name}: new entries {run.start}:{run.stop} are non-zero"]
        elif not torch.equal(part, parent[run.parent_start : run.parent_start + run.stop - run.start]):
            return [f"{name}: entries {run.start}:{run.stop} differ from the parent's {run.parent_start}.."]
    return []


def is_zero(tensor: torch.Tensor) -> bool:
    return not bool(tensor.any())
