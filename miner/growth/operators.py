"""Growth operators: small config objects, looked up by name in a registry (mergekit-style).

Each operator records one intent on a `Target`; a plan applies them in order, so depth operators
compose (e.g. stack, then insert). In YAML/JSON an operator is `{op: <name>, <field>: <value>...}`.

| op           | fields                                   | exact with init exact |
|--------------|------------------------------------------|-----------------------|
| hidden       | size                                     | yes (norm_divisor frozen) |
| intermediate | size                                     | yes |
| heads        | num_heads, num_kv_heads                  | yes (group-aware placement) |
| vocab        | size                                     | no: new logits are 0 (penalty reported) |
| dtype        | dtype                                    | widening yes, narrowing no |
| stack        | times, copy_writers                      | yes unless copy_writers |
| interpolate  | times, copy_writers                      | yes unless copy_writers |
| layers       | spec (see layer_spec), copy_writers      | yes if the spec runs every layer in order |
| insert       | after (positions), source previous/fresh | yes |
| num_layers   | total, source                            | yes |
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .depth import Slot
from .layer_spec import parse_layer_spec
from .target import Target

REGISTRY: dict[str, type[Operator]] = {}


def register(cls: type[Operator]) -> type[Operator]:
    REGISTRY[cls.op] = cls
    return cls


class Operator:
    op: ClassVar[str]

    def apply(self, target: Target) -> None:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        return {"op": self.op, **dataclasses.asdict(self)}


def operator_from_dict(data: dict[str, Any]) -> Operator:
    """`{"op": "hidden", "size": 1152}` -> Hidden(size=1152); unknown names or fields raise."""
    data = dict(data)
    name = data.pop("op", None)
    if name not in REGISTRY:
        raise ValueError(f"unknown growth operator {name!r}; known: {sorted(REGISTRY)}")
    cls = REGISTRY[name]
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"operator {name!r} has no field(s) {sorted(unknown)}; fields: {sorted(known)}")
    return cls(**data)


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return value


@register
@dataclass
class Hidden(Operator):
    op: ClassVar[str] = "hidden"
    size: int

    def apply(self, target: Target) -> None:
        target.hidden = _positive("hidden size", self.size)


@register
@dataclass
class Intermediate(Operator):
    op: ClassVar[str] = "intermediate"
    size: int

    def apply(self, target: Target) -> None:
        target.intermediate = _positive("intermediate size", self.size)


@register
@dataclass
class Heads(Operator):
    op: ClassVar[str] = "heads"
    num_heads: int | None = None
    num_kv_heads: int | None = None

    def apply(self, target: Target) -> None:
        if self.num_heads is not None:
            target.heads = _positive("num_heads", self.num_heads)
        if self.num_kv_heads is not None:
            target.kv_heads = _positive("num_kv_heads", self.num_kv_heads)


@register
@dataclass
class Vocab(Operator):
    op: ClassVar[str] = "vocab"
    size: int

    def apply(self, target: Target) -> None:
        target.vocab = _positive("vocab size", self.size)


@register
@dataclass
class Dtype(Operator):
    op: ClassVar[str] = "dtype"
    dtype: str

    def apply(self, target: Target) -> None:
        target.dtype = self.dtype


@register
@dataclass
class Stack(Operator):
    """G_stack: the whole layer stack `times` times ([L1..Ln, L1..Ln, ...])."""

    op: ClassVar[str] = "stack"
    times: int
    copy_writers: bool = False

    def apply(self, target: Target) -> None:
        base = target.slots
        target.slots = list(base) + [Slot(s.source, self.copy_writers) for s in base] * (
            _positive("times", self.times) - 1
        )


@register
@dataclass
class Interpolate(Operator):
    """Each layer repeated `times` times in place ([L1, L1, L2, L2, ...])."""

    op: ClassVar[str] = "interpolate"
    times: int
    copy_writers: bool = False

    def apply(self, target: Target) -> None:
        _positive("times", self.times)
        target.slots = [s if k == 0 else Slot(s.source, self.copy_writers) for s in target.slots
                        for k in range(self.times)]


@register
@dataclass
class Layers(Operator):
    """Partial stacking / any re-arrangement, written in the `layer_spec` grammar."""

    op: ClassVar[str] = "layers"
    spec: str
    copy_writers: bool = False

    def apply(self, target: Target) -> None:
        picks = parse_layer_spec(self.spec, len(target.slots))
        seen: set[int] = set()
        out = []
        for index in picks:
            if index is None:
                out.append(Slot(None))
                continue
            slot = target.slots[index]
            out.append(slot if index not in seen else Slot(slot.source, self.copy_writers))
            seen.add(index)
        target.slots = out


@register
@dataclass
class Insert(Operator):
    """Identity layers inserted after the given positions (-1: at the start).

    `source="previous"` copies the preceding layer's readers (LlamaPro-style block expansion);
    `"fresh"` draws them at random. Writers are zero either way, so each insert is an identity.
    """

    op: ClassVar[str] = "insert"
    after: list[int] = field(default_factory=list)
    source: str = "previous"

    def apply(self, target: Target) -> None:
        if self.source not in ("previous", "fresh"):
            raise ValueError(f"insert source must be 'previous' or 'fresh', got {self.source!r}")
        slots = list(target.slots)
        for after in sorted(self.after, reverse=True):
            if not -1 <= after < len(target.slots):
                raise ValueError(f"cannot insert after position {after}: there are {len(target.slots)}")
            source = None if self.source == "fresh" else target.slots[max(after, 0)].source
            slots.insert(after + 1, Slot(source))
        target.slots = slots


@register
@dataclass
class NumLayers(Operator):
    """Grow to `total` positions by inserting identity layers spread evenly through the stack."""

    op: ClassVar[str] = "num_layers"
    total: int
    source: str = "previous"

    def apply(self, target: Target) -> None:
        n, k = len(target.slots), _positive("total", self.total) - len(target.slots)
        if k < 0:
            raise ValueError(f"num_layers {self.total} < current {n}: growth only grows")
        Insert(after=[(i + 1) * n // k - 1 for i in range(k)], source=self.source).apply(target)
