"""Where each parent index lands in a wider child: the lineage convention for width growth.

A grown child is only verifiable if everyone agrees where the parent's weights sit inside it. The
rule set, a pure function of the two configs:

* hidden, intermediate, vocabulary: the parent occupies the prefix; new units are appended.
* attention heads (head_dim fixed): `head_placement`. When the query/KV group size is unchanged the
  parent heads are the prefix. When it changes, parent query heads are re-slotted so that each still
  attends to (a copy of) its own KV head; appending naively would pair old queries with the wrong
  KV head (measured error ~0.41, FACTS section 3).
* fused Phi3 tensors: `qkv_proj` rows are [q; k; v] and `gate_up_proj` rows are [gate; up], so each
  part is placed separately and the new rows of a part sit at that part's boundary, not at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

NEW = -1


@dataclass(frozen=True)
class Run:
    """Child indices [start, stop) that are all new (`parent_start` None) or copy a contiguous parent range."""

    start: int
    stop: int
    parent_start: int | None


@dataclass(frozen=True)
class AxisMap:
    """For each child index along one axis, the parent index it copies, or NEW (-1)."""

    src: tuple[int, ...]

    @classmethod
    def prefix(cls, old: int, new: int) -> AxisMap:
        if new < old:
            raise ValueError(f"cannot shrink an axis from {old} to {new}")
        return cls(tuple(range(old)) + (NEW,) * (new - old))

    def __len__(self) -> int:
        return len(self.src)

    @property
    def is_identity(self) -> bool:
        return all(s == i for i, s in enumerate(self.src))

    def expand(self, block: int) -> AxisMap:
        """Unit map (e.g. heads) -> element map (heads x head_dim rows)."""
        out: list[int] = []
        for s in self.src:
            out.extend([NEW] * block if s == NEW else range(s * block, (s + 1) * block))
        return AxisMap(tuple(out))

    @cached_property
    def _runs(self) -> tuple[Run, ...]:
        return tuple(self._compute_runs())

    def runs(self) -> tuple[Run, ...]:
        """Maximal runs; few per tensor, so copies and fills become slice operations (cached)."""
        return self._runs

    @cached_property
    def parent_size(self) -> int:
        """Length of the parent axis this map draws from (largest source index + 1)."""
        return max(self.src, default=-1) + 1

    def _compute_runs(self) -> list[Run]:
        runs: list[Run] = []
        start = 0
        for i in range(1, len(self.src) + 1):
            if i < len(self.src):
                a, b = self.src[i - 1], self.src[i]
                if (a == NEW and b == NEW) or (a != NEW and b == a + 1):
                    continue
            first = self.src[start]
            runs.append(Run(start, i, None if first == NEW else first))
            start = i
        return runs

    @cached_property
    def _old_count(self) -> int:
        return sum(1 for s in self.src if s != NEW)

    def old_count(self) -> int:
        return self._old_count


def concat(parts: Sequence[tuple[AxisMap, int]]) -> AxisMap:
    """Fused tensors: child rows are the parts in order; `offset` is where the part starts in the parent."""
    out: list[int] = []
    for part, offset in parts:
        out.extend(NEW if s == NEW else s + offset for s in part.src)
    return AxisMap(tuple(out))


@dataclass(frozen=True)
class WidthDims:
    hidden: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int

    @classmethod
    def of(cls, config: Mapping[str, Any] | Any) -> WidthDims:
        """From a config object or its dict; head_dim falls back to hidden // heads like upstream."""
        get = config.get if isinstance(config, Mapping) else lambda k, d=None: getattr(config, k, d)
        heads = int(get("num_attention_heads"))
        kv = get("num_key_value_heads") or heads
        head_dim = get("head_dim") or int(get("hidden_size")) // heads
        return cls(int(get("hidden_size")), int(get("intermediate_size")), heads, int(kv), int(head_dim),
                   int(get("vocab_size")))

    @property
    def group(self) -> int:
        return self.heads // self.kv_heads


def head_placement(parent_heads: int, parent_kv: int, child_heads: int, child_kv: int) -> tuple[AxisMap, AxisMap]:
    """(query slot map, KV head map) for head growth with head_dim fixed.

    Parent KV group k (query heads k*g .. k*g+g-1) needs c = ceil(g / g') child KV heads, all copies
    of parent KV head k, because a child group holds only g' query slots. Those copies are child KV
    heads k*c .. k*c+c-1 and the group's parent queries fill their slots in order; every other
    slot and KV head is new. With g' == g this is exactly the prefix placement.
    """
    if parent_heads % parent_kv or child_heads % child_kv:
        raise ValueError("query heads must be a multiple of KV heads")
    if child_heads < parent_heads or child_kv < parent_kv:
        raise ValueError(f"cannot shrink heads {parent_heads}/{parent_kv} -> {child_heads}/{child_kv}")
    g, g_child = parent_heads // parent_kv, child_heads // child_kv
    copies = -(-g // g_child)
    if parent_kv * copies > child_kv:
        raise ValueError(
            f"heads {parent_heads}/{parent_kv} (group {g}) cannot grow to {child_heads}/{child_kv} (group {g_child}): "
            f"each parent group needs {copies} KV heads of group {g_child}, {parent_kv * copies} > {child_kv}"
        )
    kv_src = [NEW] * child_kv
    q_src = [NEW] * child_heads
    for k in range(parent_kv):
        for c in range(copies):
            kv_src[k * copies + c] = k
        for j in range(g):
            q_src[k * copies * g_child + j] = k * g + j
    return AxisMap(tuple(q_src)), AxisMap(tuple(kv_src))


@dataclass(frozen=True)
class WidthPlacement:
    """Axis maps for every axis named in `roles.py`, from the parent's and the child's dims."""

    parent: WidthDims
    child: WidthDims
    axes: dict[str, AxisMap]

    @classmethod
    def between(cls, parent: WidthDims, child: WidthDims) -> WidthPlacement:
        if parent.head_dim != child.head_dim:
            raise ValueError(f"head_dim must stay {parent.head_dim} (RoPE and 1/sqrt(d) change otherwise)")
        q_heads, kv_heads = head_placement(parent.heads, parent.kv_heads, child.heads, child.kv_heads)
        q, kv = q_heads.expand(parent.head_dim), kv_heads.expand(parent.head_dim)
        inter = AxisMap.prefix(parent.intermediate, child.intermediate)
        pq, pkv = parent.heads * parent.head_dim, parent.kv_heads * parent.head_dim
        axes = {
            "H": AxisMap.prefix(parent.hidden, child.hidden),
            "Q": q,
            "KV": kv,
            "QKV": concat([(q, 0), (kv, pq), (kv, pq + pkv)]),
            "I": inter,
            "GU": concat([(inter, 0), (inter, parent.intermediate)]),
            "V": AxisMap.prefix(parent.vocab, child.vocab),
            "q_heads": q_heads,
            "kv_heads": kv_heads,
        }
        return cls(parent, child, axes)

    def maps_for(self, axes: Sequence[str]) -> list[AxisMap]:
        return [self.axes[a] for a in axes]
