"""Hostile weights: indexes, safetensors headers, tensor names, dtypes, shapes and values."""

from __future__ import annotations

import json
import math
import struct

import torch
from safetensors.torch import save_file

from node.gate import scan_finite
from node.refusal import RefusalKind as K

from .build import (
    WEIGHTS,
    copy_model,
    edit_config,
    edit_header,
    edit_tensors,
    split_safetensors,
    write_raw_tensors,
    write_safetensors,
)
from .cases_files import gate, load
from .registry import case

INDEX = "model.safetensors.index.json"
EMBED = "model.embed_tokens.weight"


def sharded(tmp, family: str = "llama"):
    """The tiny model as two shards and an index (layers 0-1 in the first, the rest in the second)."""
    from safetensors.torch import load_file

    path = copy_model(tmp / "m", family)
    tensors = load_file(path / WEIGHTS)
    (path / WEIGHTS).unlink()
    first = {k: v for k, v in tensors.items() if k.startswith(("model.layers.0.", "model.layers.1."))}
    second = {k: v for k, v in tensors.items() if k not in first}
    shards = {"model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second}
    weight_map = {}
    for shard, part in shards.items():
        save_file(part, path / shard, metadata={"format": "pt"})
        weight_map.update(dict.fromkeys(part, shard))
    (path / INDEX).write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))
    return path


def edit_index(path, edit):
    index = json.loads((path / INDEX).read_text())
    edit(index)
    (path / INDEX).write_text(json.dumps(index))
    return path


# ---- index ----

@case("index", K.BAD_INDEX)
def index_weight_map_is_a_list(tmp):
    return load(edit_index(sharded(tmp), lambda i: i.update(weight_map=list(i["weight_map"]))))


@case("index", K.BAD_INDEX)
def index_without_weight_map(tmp):
    return gate(edit_index(sharded(tmp), lambda i: i.pop("weight_map")))


@case("index", K.BAD_INDEX)
def index_names_a_number(tmp):
    return gate(edit_index(sharded(tmp), lambda i: i["weight_map"].update({EMBED: 7})))


@case("index", K.BAD_INDEX)
def index_shard_escapes_folder(tmp):
    return gate(edit_index(sharded(tmp), lambda i: i["weight_map"].update({EMBED: "../../etc/x.safetensors"})))


@case("index", K.BAD_INDEX)
def index_places_tensor_in_wrong_shard(tmp):
    return gate(edit_index(sharded(tmp), lambda i: i["weight_map"].update({EMBED: "model-00001-of-00002.safetensors"})))


@case("index", K.BAD_INDEX)
def index_lists_tensor_no_shard_has(tmp):
    return gate(edit_index(sharded(tmp), lambda i: i["weight_map"].update(
        {"model.layers.9.mlp.up_proj.weight": "model-00001-of-00002.safetensors"})))


@case("index", K.BAD_INDEX)
def index_unknown_top_level_key(tmp):
    return gate(edit_index(sharded(tmp), lambda i: i.update(evil={"a": 1})))


@case("index", K.BAD_INDEX)
def unindexed_extra_shard(tmp):
    path = sharded(tmp)
    save_file({"x": torch.zeros(2)}, path / "extra.safetensors")
    return gate(path)


@case("index", K.BAD_INDEX)
def tensor_in_two_shards(tmp):
    path = sharded(tmp)
    edit_tensors(path, lambda t: t.update({EMBED: torch.zeros(96, 64)}), file="model-00001-of-00002.safetensors")
    return gate(path)


# ---- safetensors headers ----

@case("header", K.BAD_SAFETENSORS)
def header_longer_than_file(tmp):
    path = copy_model(tmp / "m")
    header, body = split_safetensors(path / WEIGHTS)
    write_safetensors(path / WEIGHTS, header, body, declared_length=len(body) + 100_000)
    return load(path)


@case("header", K.BAD_SAFETENSORS)
def header_length_2_pow_60(tmp):
    path = copy_model(tmp / "m")
    data = (path / WEIGHTS).read_bytes()
    (path / WEIGHTS).write_bytes(struct.pack("<Q", 1 << 60) + data[8:])
    return gate(path)


@case("header", K.BAD_SAFETENSORS)
def file_of_five_bytes(tmp):
    path = copy_model(tmp / "m")
    (path / WEIGHTS).write_bytes(b"\x01\x02\x03\x04\x05")
    return gate(path)


@case("header", K.BAD_SAFETENSORS)
def header_not_json(tmp):
    path = copy_model(tmp / "m")
    raw = b"{this is not json}      "
    (path / WEIGHTS).write_bytes(struct.pack("<Q", len(raw)) + raw)
    return gate(path)


@case("header", K.BAD_SAFETENSORS)
def offsets_past_the_data(tmp):
    def grow(header):
        header[EMBED]["data_offsets"][1] += 1 << 20
        header[EMBED]["shape"] = [96 + (1 << 20) // 256, 64]
    return gate(edit_header(copy_model(tmp / "m"), grow))


@case("header", K.BAD_SAFETENSORS)
def overlapping_tensors(tmp):
    def overlap(header):
        names = sorted((n for n in header if n != "__metadata__"), key=lambda n: header[n]["data_offsets"][0])
        a, b = header[names[0]], header[names[1]]
        size = b["data_offsets"][1] - b["data_offsets"][0]
        b["data_offsets"] = [a["data_offsets"][0], a["data_offsets"][0] + size]
    return gate(edit_header(copy_model(tmp / "m"), overlap))


@case("header", K.BAD_SAFETENSORS)
def offsets_disagree_with_shape(tmp):
    return gate(edit_header(copy_model(tmp / "m"), lambda h: h[EMBED].update(shape=[95, 64])))


@case("header", K.BAD_SAFETENSORS)
def unknown_dtype(tmp):
    return gate(edit_header(copy_model(tmp / "m"), lambda h: h[EMBED].update(dtype="Q4_K")))


@case("header", K.BAD_SAFETENSORS)
def negative_dimension(tmp):
    return gate(edit_header(copy_model(tmp / "m"), lambda h: h[EMBED].update(shape=[-96, -64])))


@case("header", K.BAD_SAFETENSORS)
def entry_with_extra_key(tmp):
    return gate(edit_header(copy_model(tmp / "m"), lambda h: h[EMBED].update(evil=1)))


@case("header", K.TENSOR_NAMES, seconds=20.0)
def header_of_30k_tiny_tensors(tmp):
    path = copy_model(tmp / "m")
    save_file({f"t{i}": torch.zeros(1) for i in range(30_000)}, path / WEIGHTS)
    return gate(path)


@case("header", K.BAD_SAFETENSORS)
def header_of_a_million_tensors(tmp):
    """~60 MB of header: over the header limit, refused before parsing."""
    path = copy_model(tmp / "m")
    entry = '"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}'
    raw = ("{" + ",".join(entry % i for i in range(1_000_000)) + "}").encode()
    (path / WEIGHTS).write_bytes(struct.pack("<Q", len(raw)) + raw)
    return gate(path)


# ---- tensors against the config ----

@case("tensors", K.TENSOR_NAMES)
def extra_tensor(tmp):
    return load(edit_tensors(copy_model(tmp / "m"), lambda t: t.update(evil=torch.zeros(4))))


@case("tensors", K.TENSOR_NAMES)
def missing_tensor(tmp):
    return load(edit_tensors(copy_model(tmp / "m"), lambda t: t.pop("model.layers.2.mlp.up_proj.weight")))


@case("tensors", K.TENSOR_NAMES)
def stored_layer_never_run(tmp):
    """layer_map [0, 1, 1, 0] stores 2 layers; the file still holds layers 2 and 3."""
    return load(edit_config(copy_model(tmp / "m"), layer_map=[0, 1, 1, 0]))


@case("tensors", K.TENSOR_NAMES)
def layer_named_evil(tmp):
    return gate(edit_tensors(copy_model(tmp / "m"), lambda t: t.update({"model.layers.evil.weight": torch.zeros(4)})))


@case("tensors", K.TENSOR_NAMES)
def tied_config_with_lm_head(tmp):
    return gate(edit_config(copy_model(tmp / "m"), tie_word_embeddings=True))


@case("tensors", K.TENSOR_NAMES)
def untied_config_without_lm_head(tmp):
    return gate(edit_config(copy_model(tmp / "m", tie_word_embeddings=True), tie_word_embeddings=False))


@case("tensors", K.TENSOR_NAMES)
def bias_config_says_none(tmp):
    return gate(edit_tensors(copy_model(tmp / "m"),
                             lambda t: t.update({"model.layers.0.self_attn.q_proj.bias": torch.zeros(64)})))


@case("tensors", K.TENSOR_NAMES)
def bias_missing_config_wants(tmp):
    return gate(edit_config(copy_model(tmp / "m"), attention_bias=True))


@case("tensors", K.TENSOR_DTYPE)
def integer_weights(tmp):
    return load(edit_tensors(copy_model(tmp / "m"), lambda t: t.update({EMBED: t[EMBED].to(torch.int32)})))


@case("tensors", K.TENSOR_DTYPE)
def bool_norm_weights(tmp):
    return gate(edit_tensors(copy_model(tmp / "m"),
                             lambda t: t.update({"model.norm.weight": torch.ones(64, dtype=torch.bool)})))


@case("tensors", K.TENSOR_SHAPE)
def embedding_header_25m_rows(tmp):
    """The header says 25M x 64 fp32 (6 GiB, a sparse file); the config says 96 rows: refused unread."""
    from safetensors.torch import load_file

    path = copy_model(tmp / "m")
    tensors = load_file(path / WEIGHTS)
    del tensors[EMBED]
    rows = 25_000_000
    write_raw_tensors(path / WEIGHTS, tensors, {EMBED: ("F32", [rows, 64], rows * 64 * 4)})
    return load(path)


@case("tensors", K.TENSOR_SHAPE)
def transposed_projection(tmp):
    name = "model.layers.1.self_attn.k_proj.weight"
    return gate(edit_tensors(copy_model(tmp / "m"), lambda t: t.update({name: t[name].T.contiguous()})))


@case("tensors", K.TENSOR_SHAPE)
def phi3_qkv_without_kv_rows(tmp):
    name = "model.layers.0.self_attn.qkv_proj.weight"
    return gate(edit_tensors(copy_model(tmp / "m", "phi3"), lambda t: t.update({name: t[name][:64].contiguous()})))


@case("tensors", K.TENSOR_SHAPE)
def phi3_gate_up_not_fused(tmp):
    name = "model.layers.3.mlp.gate_up_proj.weight"
    return gate(edit_tensors(copy_model(tmp / "m", "phi3"), lambda t: t.update({name: t[name][:128].contiguous()})))


@case("tensors", K.TENSOR_SHAPE)
def inv_freq_wrong_shape(tmp):
    return gate(edit_tensors(copy_model(tmp / "m"),
                             lambda t: t.update({"model.layers.0.self_attn.rotary_emb.inv_freq": torch.ones(4, 4)})))


@case("tensors", K.TENSOR_SHAPE)
def norm_of_wrong_width(tmp):
    return gate(edit_tensors(copy_model(tmp / "m"), lambda t: t.update({"model.norm.weight": torch.ones(65)})))


# ---- values ----

def poisoned(tmp, value: float):
    name = "model.layers.1.mlp.down_proj.weight"

    def poison(tensors):
        tensors[name][3, 5] = value

    path = edit_tensors(copy_model(tmp / "m"), poison)
    return lambda: scan_finite(path)


@case("values", K.NON_FINITE)
def one_nan_weight(tmp):
    return poisoned(tmp, math.nan)


@case("values", K.NON_FINITE)
def one_inf_weight(tmp):
    return poisoned(tmp, -math.inf)

