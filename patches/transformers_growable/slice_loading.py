"""Load only the weights one slice of executed positions needs, straight from safetensors shards.

A validator evaluating a model larger than its memory loads slice k, runs every sample through it,
parks the hidden states, frees it and loads slice k+1. The model skeleton is built on the meta
device (no allocation); tensors are read with `safe_open` and assigned; modules a slice does not
run stay on meta. No accelerate device maps are involved.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import torch
from safetensors import safe_open

from .checkpoint import tensor_locations
from .modeling import LayerRange, resolve_layer_range

EMBED = "model.embed_tokens.weight"
FINAL_NORM = "model.norm.weight"
LM_HEAD = "lm_head.weight"


def tensors_for_slice(config, names: list[str], layer_range: LayerRange) -> list[str]:
    """The checkpoint tensor names a slice reads: embeddings, its stored layers, the head."""
    start, stop = layer_range
    last = stop == config.num_hidden_layers
    stored = {config.stored_layer_at(p) for p in range(start, stop)}
    wanted = []
    for name in names:
        parts = name.split(".")
        if name.startswith("model.layers.") and int(parts[2]) in stored:
            wanted.append(name)
        elif name == EMBED and (start == 0 or (last and config.tie_word_embeddings)):
            wanted.append(name)
        elif name in (FINAL_NORM, LM_HEAD) and last:
            wanted.append(name)
    return wanted


def read_tensors(locations: dict[str, Path], names: list[str], dtype: torch.dtype, device) -> dict:
    """Read `names` grouped by shard, each shard opened once."""
    by_shard: dict[Path, list[str]] = defaultdict(list)
    for name in names:
        by_shard[locations[name]].append(name)
    tensors = {}
    for shard, shard_names in by_shard.items():
        with safe_open(shard, framework="pt", device="cpu") as handle:
            for name in shard_names:
                tensors[name] = handle.get_tensor(name).to(device=device, dtype=dtype)
    return tensors


class SliceLoadingMixin:
    """`from_pretrained_slice`: a causal LM holding only the weights of executed positions [a, b)."""

    @classmethod
    def from_pretrained_slice(
        cls,
        checkpoint_dir: str | Path,
        layer_range: LayerRange | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        device: str | torch.device = "cpu",
        attn_implementation: str = "sdpa",
    ):
        config = cls.config_class.from_pretrained(checkpoint_dir)
        config._attn_implementation = attn_implementation
        start, stop = resolve_layer_range(config, layer_range)
        with torch.device("meta"):
            model = cls(config)
        locations = tensor_locations(checkpoint_dir)
        names = tensors_for_slice(config, list(locations), (start, stop))
        tensors = read_tensors(locations, names, dtype, device)
        last = stop == config.num_hidden_layers
        if last and config.tie_word_embeddings and LM_HEAD not in tensors:
            tensors[LM_HEAD] = tensors[EMBED]
        if start > 0 and EMBED in tensors and config.tie_word_embeddings:
            del tensors[EMBED]  # only the head needs it; keep the input embedding unloaded
        missing = _expected_params(model, config, (start, stop)) - set(tensors)
        if missing:
            raise ValueError(f"checkpoint {checkpoint_dir} lacks tensors for this slice: {sorted(missing)[:5]}")
        model.load_state_dict(tensors, strict=False, assign=True)
        if last and config.tie_word_embeddings and start == 0:
            model.lm_head.weight = model.model.embed_tokens.weight
        with torch.device(device):
            model.model.rotary_emb = type(model.model.rotary_emb)(config=config)
        model.loaded_layer_range = (start, stop)
        return model.eval()


def _expected_params(model, config, layer_range: LayerRange) -> set[str]:
    names = [name for name, _ in model.named_parameters(remove_duplicate=False)]
    wanted = set(tensors_for_slice(config, names, layer_range))
    if layer_range[1] == config.num_hidden_layers:
        wanted.add(LM_HEAD)
        if layer_range[0] > 0:
            wanted.discard(EMBED)
    return wanted
