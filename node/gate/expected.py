"""The exact tensors a config implies: names and shapes, Llama and Phi3, computed without building a model.

What the patched classes hold (and so what a checkpoint must hold, no more, no less):
- `model.embed_tokens.weight` [vocab, hidden], `model.norm.weight` [hidden], and `lm_head.weight`
  [vocab, hidden] unless the embeddings are tied (then it is absent: the head reuses the embedding).
- per stored layer i (`num_hidden_layers`, or `max(layer_map) + 1` under a layer map): the two
  RMSNorm weights [hidden]; Llama: q/k/v/o projections and gate/up/down MLP projections, with biases
  when `attention_bias` / `mlp_bias` say so; Phi3: fused `qkv_proj` [(heads + 2 kv) x head_dim,
  hidden], `o_proj`, fused `gate_up_proj` [2 x intermediate, hidden] and `down_proj`, no biases.
Old checkpoints may also carry rotary `inv_freq` buffers; they are recomputed, never loaded, and
accepted only with the shape rotary embeddings have.
"""

from __future__ import annotations

import re

from .config_check import ConfigShape

LAYER_NAME = re.compile(r"model\.layers\.(0|[1-9][0-9]{0,5})\.(.+)")
INV_FREQ = "self_attn.rotary_emb.inv_freq"


def layer_tensors(shape: ConfigShape) -> dict[str, tuple[int, ...]]:
    """Suffix -> shape of the tensors of one stored layer."""
    h, q, kv = shape.hidden, shape.heads * shape.head_dim, shape.kv_heads * shape.head_dim
    tensors: dict[str, tuple[int, ...]] = {
        "input_layernorm.weight": (h,),
        "post_attention_layernorm.weight": (h,),
        "self_attn.o_proj.weight": (h, q),
        "mlp.down_proj.weight": (h, shape.intermediate),
    }
    if shape.model_type == "phi3":
        tensors["self_attn.qkv_proj.weight"] = (q + 2 * kv, h)
        tensors["mlp.gate_up_proj.weight"] = (2 * shape.intermediate, h)
        return tensors
    for proj, rows in (("q_proj", q), ("k_proj", kv), ("v_proj", kv)):
        tensors[f"self_attn.{proj}.weight"] = (rows, h)
    for proj in ("gate_proj", "up_proj"):
        tensors[f"mlp.{proj}.weight"] = (shape.intermediate, h)
    if shape.attention_bias:
        for proj, rows in (("q_proj", q), ("k_proj", kv), ("v_proj", kv), ("o_proj", h)):
            tensors[f"self_attn.{proj}.bias"] = (rows,)
    if shape.mlp_bias:
        for proj, rows in (("gate_proj", shape.intermediate), ("up_proj", shape.intermediate), ("down_proj", h)):
            tensors[f"mlp.{proj}.bias"] = (rows,)
    return tensors


def global_tensors(shape: ConfigShape) -> dict[str, tuple[int, ...]]:
    tensors = {"model.embed_tokens.weight": (shape.vocab, shape.hidden), "model.norm.weight": (shape.hidden,)}
    if not shape.tied:
        tensors["lm_head.weight"] = (shape.vocab, shape.hidden)
    return tensors


def stored_parameters(shape: ConfigShape) -> int:
    """Parameters the checkpoint stores (each stored layer once), from the config alone."""
    from math import prod

    per_layer = sum(prod(s) for s in layer_tensors(shape).values())
    return sum(prod(s) for s in global_tensors(shape).values()) + shape.stored_layers * per_layer
