"""A growth plan: operators plus how to initialise what they add. Readable from YAML or JSON.

Example (YAML)::

    init: exact        # exact | zeros | noisy
    seed: 1234         # every random draw derives from this
    noise: 0.01        # noisy only: writer std as a fraction of initializer_range
    layer_map: false   # true: duplicate layers by reference (config.layer_map), not by copy
    operators:
      - {op: hidden, size: 1152}
      - {op: intermediate, size: 3072}
      - {op: stack, times: 2}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.mapping_file import read_mapping_file

from .init import Strategy
from .operators import Operator, operator_from_dict

PLAN_KEYS = ("init", "seed", "noise", "layer_map", "operators")


@dataclass
class GrowthPlan:
    operators: list[Operator] = field(default_factory=list)
    init: str = Strategy.EXACT.value
    seed: int = 0
    noise: float = 0.01
    layer_map: bool | None = None  # None: keep the parent's form (virtual if the parent has a layer_map)

    def __post_init__(self) -> None:
        Strategy(self.init)  # raises on an unknown strategy
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if not self.noise >= 0:
            raise ValueError(f"noise must be >= 0, got {self.noise!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GrowthPlan:
        unknown = set(data) - set(PLAN_KEYS)
        if unknown:
            raise ValueError(f"unknown plan key(s) {sorted(unknown)}; known: {list(PLAN_KEYS)}")
        ops = data.get("operators") or []
        if not isinstance(ops, list):
            raise ValueError("plan 'operators' must be a list")
        kwargs = {k: data[k] for k in ("init", "seed", "noise", "layer_map") if k in data}
        return cls(operators=[operator_from_dict(op) for op in ops], **kwargs)

    @classmethod
    def from_file(cls, path: str | Path) -> GrowthPlan:
        """JSON if the file parses as JSON, else YAML (safe loader)."""
        data = read_mapping_file(path, "a growth plan")
        return cls.from_dict(data)

    def to_dict(self) -> dict[str, Any]:
        return {
            "init": self.init,
            "seed": self.seed,
            "noise": self.noise,
            "layer_map": self.layer_map,
            "operators": [op.to_dict() for op in self.operators],
        }
