"""The case registry: each case builds one input in a temporary folder and names the reason it must get.

A case is a builder `build(tmp) -> attempt`; `attempt()` runs the real code path (the gate, the
loader, the engine, the tokeniser, the pointer parser, the hub) on the input. A hostile case passes
when the attempt raises `node.refusal.Refused` of the expected kind within its time and memory bound;
a valid case (`expected=None`) passes when the attempt returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node.refusal import RefusalKind

from ..limits import MIB

Attempt = Callable[[], object]
Builder = Callable[[Path], Attempt]


@dataclass(frozen=True)
class Case:
    name: str
    group: str
    expected: RefusalKind | None  # None: a valid input that must be accepted
    build: Builder
    seconds: float = 10.0  # bound on the attempt's wall time
    memory_bytes: int = 512 * MIB  # bound on the attempt's peak resident memory above the case's start
    needs_assets: bool = False  # uses the offline assets (skipped when they are not built)
    slow: bool = False  # only in full runs (starts its own processes)


REGISTRY: dict[str, Case] = {}


def case(group: str, expected: RefusalKind | None, **options) -> Callable[[Builder], Builder]:
    """Register `build` under its function name."""

    def register(build: Builder) -> Builder:
        name = build.__name__
        if name in REGISTRY:
            raise ValueError(f"case {name} registered twice")
        REGISTRY[name] = Case(name, group, expected, build, **options)
        return build

    return register


def all_cases(include_controls: bool = False) -> dict[str, Case]:
    """Every registered case (importing the case modules registers them); the control cases, which check the
    harness itself by failing on purpose, only when asked for."""
    from . import cases_config, cases_files, cases_inputs, cases_valid, cases_weights  # noqa: F401

    if include_controls:
        from . import cases_controls  # noqa: F401
    return {name: c for name, c in REGISTRY.items() if include_controls or c.group != "control"}
