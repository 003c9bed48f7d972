"""Structural lineage check: the parent's weights sit inside the child exactly where growth puts them.

Width placement is a pure function of the two configs (`placement.py`). Depth is inferred from the
weights, because many depth plans give the same layer count: walking the child's executed
positions in order, each parent position must be found carried whole (writers included), in the
parent's order, and every other child position must be an identity (all writers zero). Tensors are
read one at a time, so a child of any size is checked in bounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.modeling import read_model_config

from .checkpoint import LazyCheckpoint
from .placement import WidthDims, WidthPlacement
from .roles import EMBED_NAME, GLOBAL_ROLES, HEAD_NAME, LAYER_ROLES, Kind, is_ignored, layer_tensor, parse_name
from .tensor_check import check_tensor, is_zero

SAME_KEYS = ("model_type", "rms_norm_eps", "rope_parameters", "hidden_act", "tie_word_embeddings",
             "attention_bias", "mlp_bias", "sliding_window", "partial_rotary_factor")


@dataclass
class StructureReport:
    issues: list[str] = field(default_factory=list)
    carried_at: list[int] = field(default_factory=list)  # child position carrying each parent position
    identity_positions: list[int] = field(default_factory=list)
    width: WidthPlacement | None = None

    @property
    def ok(self) -> bool:
        return not self.issues


def check_structure(parent_dir: str | Path, child_dir: str | Path) -> StructureReport:
    report = StructureReport()
    parent_cfg, child_cfg = read_model_config(parent_dir), read_model_config(child_dir)
    report.issues += config_issues(parent_cfg, child_cfg)
    try:
        report.width = WidthPlacement.between(WidthDims.of(parent_cfg), WidthDims.of(child_cfg))
    except ValueError as exc:
        report.issues.append(f"width: {exc}")
        return report
    checker = _Checker(LazyCheckpoint(parent_dir), LazyCheckpoint(child_dir), report.width)
    report.issues += checker.names_issues(parent_cfg, child_cfg)
    if report.issues:
        return report
    report.issues += checker.globals_issues(bool(child_cfg.tie_word_embeddings))
    _walk_depth(checker, parent_cfg, child_cfg, report)
    return report


def config_issues(parent: Any, child: Any) -> list[str]:
    issues = []
    p, c = parent.to_dict(), child.to_dict()
    for key in SAME_KEYS:
        if p.get(key) != c.get(key):
            issues.append(f"config {key}: parent {p.get(key)!r} != child {c.get(key)!r}")
    if parent.effective_norm_divisor != child.effective_norm_divisor:
        issues.append(f"RMSNorm divisor changed {parent.effective_norm_divisor:g} -> {child.effective_norm_divisor:g} "
                      "(norm_divisor must stay frozen at the parent's value when the hidden size grows)")
    return issues


class _Checker:
    def __init__(self, parent: LazyCheckpoint, child: LazyCheckpoint, width: WidthPlacement) -> None:
        self.parent, self.child, self.width = parent, child, width
        names = [parse_name(n) for n in parent.names if not is_ignored(n)]
        self.suffixes = sorted({t.suffix for t in names if t.layer is not None})
        self._contains: dict[tuple[int, int], list[str]] = {}
        self._identity: dict[int, bool] = {}

    def names_issues(self, parent_cfg: Any, child_cfg: Any) -> list[str]:
        expected = {n for n in self.parent.names if not is_ignored(n) and parse_name(n).layer is None}
        if child_cfg.tie_word_embeddings:
            expected.discard(HEAD_NAME)
        expected |= {layer_tensor(i, s) for i in range(child_cfg.num_stored_layers) for s in self.suffixes}
        have = set(self.child.names)
        issues = [f"child lacks tensor {n}" for n in sorted(expected - have)[:5]]
        issues += [f"child has unexpected tensor {n}" for n in sorted(have - expected)[:5]]
        return issues

    def globals_issues(self, tied: bool) -> list[str]:
        issues = []
        for name in (EMBED_NAME, "model.norm.weight", HEAD_NAME):
            if name == HEAD_NAME and (tied or name not in self.child.meta):
                continue
            role = GLOBAL_ROLES[name]
            issues += check_tensor(name, self.parent.read(name), self.child.read(name),
                                   self.width.maps_for(role.axes), role)
        return issues

    def contains(self, parent_layer: int, child_layer: int) -> list[str]:
        """Issues preventing child stored layer from carrying parent stored layer (writers checked first)."""
        key = (parent_layer, child_layer)
        if key not in self._contains:
            issues: list[str] = []
            order = sorted(self.suffixes, key=lambda s: LAYER_ROLES[s].kind != Kind.WRITER)
            for suffix in order:
                role = LAYER_ROLES[suffix]
                issues = check_tensor(layer_tensor(child_layer, suffix), self.parent.read(layer_tensor(parent_layer,
                                      suffix)), self.child.read(layer_tensor(child_layer, suffix)),
                                      self.width.maps_for(role.axes), role)
                if issues:
                    break
            self._contains[key] = issues
        return self._contains[key]

    def is_identity(self, child_layer: int) -> bool:
        if child_layer not in self._identity:
            self._identity[child_layer] = all(
                is_zero(self.child.read(layer_tensor(child_layer, s)))
                for s in self.suffixes if LAYER_ROLES[s].kind == Kind.WRITER)
        return self._identity[child_layer]


def _walk_depth(checker: _Checker, parent_cfg: Any, child_cfg: Any, report: StructureReport) -> None:
    positions = child_cfg.num_hidden_layers
    c = 0
    for p in range(parent_cfg.num_hidden_layers):
        s = parent_cfg.stored_layer_at(p)
        start = c
        while c < positions and (why := checker.contains(s, child_cfg.stored_layer_at(c))):
            if not checker.is_identity(child_cfg.stored_layer_at(c)):
                report.issues.append(f"child position {c} neither carries parent position {p} ({why[0]}) nor is an "
                                     "identity (its o_proj/down_proj are non-zero)")
            else:
                report.identity_positions.append(c)
            c += 1
        if c == positions:
            why = checker.contains(s, child_cfg.stored_layer_at(start)) if start < positions else ["no positions left"]
            report.issues.append(f"parent position {p} (stored layer {s}) is not carried by any later child position; "
                                 f"at child position {start}: {why[0]}")
            return
        report.carried_at.append(c)
        c += 1
    for rest in range(c, positions):
        if checker.is_identity(child_cfg.stored_layer_at(rest)):
            report.identity_positions.append(rest)
        else:
            report.issues.append(f"child position {rest} after the last parent layer is not an identity")
