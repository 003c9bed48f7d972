"""The mutable shape a growth plan is heading for, while its operators are applied in order.

Operators only record intent (a size, a depth pattern); `finalize` turns that into consistent child
dims. Head counts follow the hidden size unless set explicitly, because head_dim must stay fixed
(RoPE frequencies and the 1/sqrt(d) scale depend on it) and Phi3 derives head_dim from
hidden_size / num_attention_heads.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.lineage.placement import WidthDims

from .depth import Slot

DTYPES = ("float32", "bfloat16", "float16")


@dataclass
class Target:
    family: str
    parent: WidthDims
    parent_positions: int
    hidden: int
    intermediate: int
    vocab: int
    heads: int | None = None
    kv_heads: int | None = None
    dtype: str | None = None
    slots: list[Slot] = field(default_factory=list)

    @classmethod
    def start(cls, family: str, parent: WidthDims, parent_positions: int) -> Target:
        return cls(family, parent, parent_positions, parent.hidden, parent.intermediate, parent.vocab,
                   slots=[Slot(p) for p in range(parent_positions)])

    def finalize(self) -> WidthDims:
        p = self.parent
        heads = self.heads
        if heads is None:
            if self.hidden % p.head_dim:
                raise ValueError(f"hidden size {self.hidden} is not a multiple of head_dim {p.head_dim}")
            heads = p.heads if self.hidden == p.hidden else max(p.heads, self.hidden // p.head_dim)
        kv = self.kv_heads
        if kv is None:
            kv = heads // p.group if heads % p.group == 0 else p.kv_heads
        if heads % kv:
            raise ValueError(f"{heads} query heads are not a multiple of {kv} KV heads")
        if self.family == "phi3" and heads * p.head_dim != self.hidden:
            raise ValueError(
                f"Phi3 derives head_dim from hidden_size / num_attention_heads: {self.hidden} / {heads} != "
                f"{p.head_dim}; grow hidden size and heads together (heads = hidden / {p.head_dim})"
            )
        if self.hidden % heads:
            raise ValueError(f"hidden size {self.hidden} must be a multiple of the head count {heads} (config rule)")
        for name, old, new in (("hidden", p.hidden, self.hidden), ("intermediate", p.intermediate, self.intermediate),
                               ("heads", p.heads, heads), ("kv heads", p.kv_heads, kv), ("vocab", p.vocab, self.vocab)):
            if new < old:
                raise ValueError(f"{name} would shrink from {old} to {new}; growth only grows")
        if self.dtype is not None and self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not self.slots:
            raise ValueError("depth plan leaves no layers")
        return WidthDims(self.hidden, self.intermediate, heads, kv, p.head_dim, self.vocab)
