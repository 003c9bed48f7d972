"""Tiny random Llama/Phi3 models and a naive zero-padding width growth, for fast exactness tests."""

from __future__ import annotations

import copy

import torch

import transformers_llama
import transformers_phi3

FAMILIES = {"llama": transformers_llama.LlamaForCausalLM, "phi3": transformers_phi3.Phi3ForCausalLM}
TINY = dict(
    vocab_size=96,
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=256,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)


def tiny_config(family: str, **overrides):
    return FAMILIES[family].config_class(**{**TINY, **overrides})


def tiny_model(family: str, seed: int = 0, dtype: torch.dtype = torch.float32, **overrides):
    """Random weights with non-trivial norms (so norm handling is actually exercised)."""
    torch.manual_seed(seed)
    model = FAMILIES[family](tiny_config(family, **overrides))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.uniform_(0.5, 1.5)
    return model.to(dtype).eval()


def random_ids(vocab: int, batch: int = 3, length: int = 19, seed: int = 1) -> torch.Tensor:
    return torch.randint(3, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


def zero_pad_hidden(model, new_hidden: int, keep_norm_divisor: bool = True):
    """Widen by appending zero rows/columns everywhere; head_dim fixed, query/KV group size kept.

    New heads are appended after the old ones (each new query head reads a new KV head), and for Phi3
    the fused `qkv_proj` rows are re-placed block by block. `keep_norm_divisor=False` builds the
    plain-mean RMSNorm child that is expected to be wrong.
    """
    config = model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    heads = new_hidden // head_dim
    kv = heads * config.num_key_value_heads // config.num_attention_heads
    child_config = type(config).from_dict(
        {
            **config.to_dict(),
            "hidden_size": new_hidden,
            "num_attention_heads": heads,
            "num_key_value_heads": kv,
            "norm_divisor": (config.norm_divisor or config.hidden_size) if keep_norm_divisor else None,
        }
    )
    with torch.device("meta"):  # no random init of weights that are overwritten below
        child = type(model)(child_config)
    child = child.to_empty(device="cpu").to(next(model.parameters()).dtype).eval()
    child.model.rotary_emb = copy.deepcopy(model.model.rotary_emb)  # head_dim and rope are unchanged
    if child_config.tie_word_embeddings:  # to_empty gives each name its own storage
        child.lm_head.weight = child.model.embed_tokens.weight
    old_q, old_kv = config.num_attention_heads * head_dim, config.num_key_value_heads * head_dim
    new_q, new_kv = heads * head_dim, kv * head_dim
    with torch.no_grad():
        parent = dict(model.named_parameters())
        for name, target in child.named_parameters():
            target.zero_()
            source = parent[name]
            if name.endswith("qkv_proj.weight"):
                width = source.shape[1]
                target[:old_q, :width] = source[:old_q]
                target[new_q : new_q + old_kv, :width] = source[old_q : old_q + old_kv]
                target[new_q + new_kv : new_q + new_kv + old_kv, :width] = source[old_q + old_kv :]
            elif name.endswith("norm.weight"):
                target[: source.shape[0]] = source
            else:
                target[tuple(slice(0, n) for n in source.shape)] = source
    return child
