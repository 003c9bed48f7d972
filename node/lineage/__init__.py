"""Lineage: how a grown child relates to its parent, and the check that certifies it.

`placement` and `roles` are the convention the miner's grower writes and validators verify;
`verify_growth` is the certification (structure + per-sample loss). Depends on node only.
"""

from .checkpoint import LazyCheckpoint
from .functional import FunctionReport, check_function
from .placement import NEW, AxisMap, WidthDims, WidthPlacement, head_placement
from .roles import Kind, Role, parse_name
from .structure import StructureReport, check_structure
from .verify import DEFAULT_TOLERANCE, LineageReport, verify_growth, verify_growth_isolated

__all__ = [
    "DEFAULT_TOLERANCE",
    "NEW",
    "AxisMap",
    "FunctionReport",
    "Kind",
    "LazyCheckpoint",
    "LineageReport",
    "Role",
    "StructureReport",
    "WidthDims",
    "WidthPlacement",
    "check_function",
    "check_structure",
    "head_placement",
    "parse_name",
    "verify_growth",
    "verify_growth_isolated",
]
