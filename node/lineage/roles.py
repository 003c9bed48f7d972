"""What each checkpoint tensor is, as far as growth is concerned.

The grower (miner) and the lineage verifier (validator) must agree on two things for every
tensor: which growable axis each of its dimensions runs along, and whether it *writes into the
residual stream*. The measured rule (FACTS section 3) is that growth is exact when every weight
that writes into the residual stream from something new is zero; weights that only read may hold
anything. Keeping that table here, in one place, is what stops the two sides from drifting apart.

Axes: H hidden, Q query rows (heads x head_dim), KV key/value rows, QKV Phi3's fused [q; k; v]
rows, I intermediate units, GU Phi3's fused [gate; up] rows, V vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    READER = "reader"  # reads the (normalised) residual stream or new units: free to be random
    READER_BIAS = "reader_bias"
    WRITER = "writer"  # adds into the residual stream: new entries must be zero for exactness
    NORM = "norm"  # RMSNorm gain: multiplies zeros in new dimensions, so any value is exact
    EMBED = "embed"  # token embedding: writes the residual stream's initial value
    HEAD = "head"  # untied lm_head: new columns read, new rows (new tokens) write logits


@dataclass(frozen=True)
class Role:
    axes: tuple[str, ...]
    kind: Kind

    @property
    def zero_new_rows(self) -> bool:
        """New entries along axis 0 must be zero for the loss (on the parent vocabulary) to stay exact."""
        return self.kind == Kind.WRITER

    @property
    def zero_new_cols(self) -> bool:
        """Old rows' entries in new columns (axis 1) must be zero for exactness."""
        return self.kind in (Kind.WRITER, Kind.EMBED)


R, RB, W, N = Kind.READER, Kind.READER_BIAS, Kind.WRITER, Kind.NORM

LAYER_ROLES: dict[str, Role] = {
    "self_attn.q_proj.weight": Role(("Q", "H"), R),
    "self_attn.k_proj.weight": Role(("KV", "H"), R),
    "self_attn.v_proj.weight": Role(("KV", "H"), R),
    "self_attn.qkv_proj.weight": Role(("QKV", "H"), R),
    "self_attn.q_proj.bias": Role(("Q",), RB),
    "self_attn.k_proj.bias": Role(("KV",), RB),
    "self_attn.v_proj.bias": Role(("KV",), RB),
    "self_attn.qkv_proj.bias": Role(("QKV",), RB),
    "self_attn.o_proj.weight": Role(("H", "Q"), W),
    "self_attn.o_proj.bias": Role(("H",), W),
    "mlp.gate_proj.weight": Role(("I", "H"), R),
    "mlp.up_proj.weight": Role(("I", "H"), R),
    "mlp.gate_up_proj.weight": Role(("GU", "H"), R),
    "mlp.gate_proj.bias": Role(("I",), RB),
    "mlp.up_proj.bias": Role(("I",), RB),
    "mlp.gate_up_proj.bias": Role(("GU",), RB),
    "mlp.down_proj.weight": Role(("H", "I"), W),
    "mlp.down_proj.bias": Role(("H",), W),
    "input_layernorm.weight": Role(("H",), N),
    "post_attention_layernorm.weight": Role(("H",), N),
}

GLOBAL_ROLES: dict[str, Role] = {
    "model.embed_tokens.weight": Role(("V", "H"), Kind.EMBED),
    "model.norm.weight": Role(("H",), N),
    "lm_head.weight": Role(("V", "H"), Kind.HEAD),
}

# Buffers some old checkpoints saved; transformers rebuilds them, growth drops them.
IGNORED_SUFFIXES = ("self_attn.rotary_emb.inv_freq",)

EMBED_NAME = "model.embed_tokens.weight"
HEAD_NAME = "lm_head.weight"
_LAYER_NAME = re.compile(r"^model\.layers\.(\d+)\.(.+)$")


@dataclass(frozen=True)
class TensorName:
    """A parsed checkpoint name: `layer` is the stored layer index (None for global tensors)."""

    name: str
    layer: int | None
    suffix: str
    role: Role


def parse_name(name: str) -> TensorName:
    """Classify a tensor name; unknown names raise, because silently dropping a tensor is worse."""
    match = _LAYER_NAME.match(name)
    if match:
        suffix = match.group(2)
        if suffix not in LAYER_ROLES:
            raise ValueError(f"unknown per-layer tensor {name!r}: growth does not know its axes")
        return TensorName(name, int(match.group(1)), suffix, LAYER_ROLES[suffix])
    if name not in GLOBAL_ROLES:
        raise ValueError(f"unknown tensor {name!r}: growth does not know its axes")
    return TensorName(name, None, name, GLOBAL_ROLES[name])


def is_ignored(name: str) -> bool:
    return name.endswith(IGNORED_SUFFIXES)


def layer_tensor(layer: int, suffix: str) -> str:
    return f"model.layers.{layer}.{suffix}"


def is_writer_suffix(suffix: str) -> bool:
    """Per-layer tensors that must be all zero for a layer to be an identity."""
    return LAYER_ROLES[suffix].kind == Kind.WRITER
