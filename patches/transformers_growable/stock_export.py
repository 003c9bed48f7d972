"""Convert a `norm_divisor` / `layer_map` checkpoint into one stock transformers evaluates correctly.

Patched RMSNorm:  w * x / sqrt(sum(x^2)/d + eps)
Stock RMSNorm:    w' * x / sqrt(sum(x^2)/n + eps')
With n the hidden size, w' = w * sqrt(d/n) and eps' = eps * d/n make them equal in exact arithmetic;
in floating point the rescaled weights round, so the export is close but not bit-exact (README gives
the measured error). A layer map is materialised: each executed position gets its own copy.
Works shard by shard, so memory stays at about one shard.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .checkpoint import INDEX_FILE, tensor_locations

# The trunk is `model.` in causal-LM and classification checkpoints, `transformer.` in Llama's
# question-answering head (upstream keeps that name for backward compatibility).
TRUNK = r"(model|transformer)"
NORM_WEIGHT = re.compile(rf"^{TRUNK}\.(layers\.\d+\.(input_layernorm|post_attention_layernorm)|norm)\.weight$")
LAYER_TENSOR = re.compile(rf"^{TRUNK}\.layers\.(\d+)\.(.+)$")
WEIGHT_SUFFIXES = (".safetensors", INDEX_FILE)


def export_to_stock(src: str | Path, dst: str | Path) -> dict:
    """Write the stock-compatible checkpoint to `dst`; returns what was changed."""
    src, dst = Path(src), Path(dst)
    config = json.loads((src / "config.json").read_text())
    hidden = config["hidden_size"]
    divisor = float(config.pop("norm_divisor", None) or hidden)
    layer_map = config.pop("layer_map", None)
    ratio = divisor / hidden
    scale = math.sqrt(ratio)
    config["rms_norm_eps"] = config["rms_norm_eps"] * ratio
    config["architectures"] = [name.removeprefix("Sliced") for name in config.get("architectures", [])]
    positions_of: dict[int, list[int]] = {}
    for position, stored in enumerate(layer_map or range(config["num_hidden_layers"])):
        positions_of.setdefault(stored, []).append(position)

    dst.mkdir(parents=True, exist_ok=True)
    locations = tensor_locations(src)
    shards = sorted(set(locations.values()))
    weight_map: dict[str, str] = {}
    total_size = 0
    for number, shard in enumerate(shards, start=1):
        out_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        tensors = {}
        with safe_open(shard, framework="pt") as handle:
            for name in handle.keys():  # noqa: SIM118 (safe_open has no __iter__)
                tensor = handle.get_tensor(name)
                if NORM_WEIGHT.match(name) and ratio != 1.0:
                    tensor = (tensor.to(torch.float32) * scale).to(tensor.dtype)
                for out, value in _materialise(name, tensor, positions_of):
                    tensors[out] = value
                    weight_map[out] = out_name
                    total_size += value.numel() * value.element_size()
        save_file(tensors, dst / out_name, metadata={"format": "pt"})
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    (dst / INDEX_FILE).write_text(json.dumps(index, indent=2))
    (dst / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))
    for extra in src.iterdir():
        if extra.is_file() and extra.name != "config.json" and not extra.name.endswith(WEIGHT_SUFFIXES):
            shutil.copy2(extra, dst / extra.name)
    return {"norm_scale": scale, "eps": config["rms_norm_eps"], "materialised_layers": layer_map is not None}


def _materialise(name: str, tensor: torch.Tensor, positions_of: dict[int, list[int]]):
    match = LAYER_TENSOR.match(name)
    if not match:
        yield name, tensor
        return
    trunk, stored, rest = match.group(1), int(match.group(2)), match.group(3)
    for index, position in enumerate(positions_of[stored]):
        yield f"{trunk}.layers.{position}.{rest}", tensor if index == 0 else tensor.clone()
