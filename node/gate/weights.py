"""Which safetensors files hold the weights, and every tensor's metadata, from the index and the headers.

A folder holds either one `model.safetensors` or a `model.safetensors.index.json` whose strict schema
is `{"metadata": {...}, "weight_map": {tensor name: shard file name}}`; each shard is a flat
`*.safetensors` file of the folder, every safetensors file of the folder is used, and each shard's
header names exactly the tensors the index assigns to it.
"""

from __future__ import annotations

from node.refusal import RefusalKind, Refused

from .bounded_json import parse_json
from .files import FolderListing, read_limited
from .limits import ModelLimits
from .safetensors_header import TensorMeta, read_header

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
INDEX_KEYS = frozenset({"metadata", "weight_map"})


def _bad_index(message: str) -> Refused:
    return Refused(RefusalKind.BAD_INDEX, f"{INDEX_FILE}: {message}")


def read_index(listing: FolderListing, limits: ModelLimits) -> dict[str, str]:
    """Tensor name -> shard name, schema-checked."""
    data = read_limited(listing.root / INDEX_FILE, limits.max_index_bytes)
    index = parse_json(data, INDEX_FILE, max_depth=4, max_int_digits=limits.max_int_digits)
    if not isinstance(index, dict) or "weight_map" not in index or not set(index) <= INDEX_KEYS:
        raise _bad_index(f"must be an object with 'weight_map' (and optionally 'metadata'), got keys "
                         f"{sorted(index)[:5] if isinstance(index, dict) else type(index).__name__}")
    if not isinstance(index.get("metadata", {}), dict):
        raise _bad_index("'metadata' must be an object")
    weight_map = index["weight_map"]
    if not isinstance(weight_map, dict) or not weight_map:
        raise _bad_index("'weight_map' must be a non-empty object of tensor name -> shard file")
    if len(weight_map) > limits.max_tensors:
        raise Refused(RefusalKind.TENSOR_NAMES, f"{INDEX_FILE} lists {len(weight_map)} tensors; the limit is "
                      f"{limits.max_tensors}")
    shards = set()
    for name, shard in weight_map.items():
        if not isinstance(shard, str) or not shard.endswith(".safetensors"):
            raise _bad_index(f"tensor {name[:80]!r} maps to {shard!r:.80}, not a .safetensors file name")
        shards.add(shard)
    if len(shards) > limits.max_shards:
        raise _bad_index(f"{len(shards)} shards; the limit is {limits.max_shards}")
    for shard in sorted(shards):
        if shard not in listing.sizes:  # listing names are flat, checked, regular files
            raise _bad_index(f"shard {shard[:80]!r} is not a file of the model folder")
    return weight_map


def read_tensors(listing: FolderListing, limits: ModelLimits) -> dict[str, TensorMeta]:
    """Every tensor of the checkpoint, with the file that holds it."""
    on_disk = sorted(name for name in listing.sizes if name.endswith(".safetensors"))
    if INDEX_FILE in listing.sizes:
        weight_map = read_index(listing, limits)
        shards = sorted(set(weight_map.values()))
        unused = sorted(set(on_disk) - set(shards))
        if unused:
            raise _bad_index(f"safetensors file(s) {unused[:5]} are not in the index")
    elif SINGLE_FILE in listing.sizes:
        weight_map, shards = None, [SINGLE_FILE]
        if on_disk != shards:
            raise _bad_index(f"no index, but several safetensors files: {on_disk[:5]}")
    else:
        raise Refused(RefusalKind.BAD_SAFETENSORS, f"no {SINGLE_FILE} or {INDEX_FILE} (safetensors weights only)")
    tensors: dict[str, TensorMeta] = {}
    for shard in shards:
        header = read_header(listing.root / shard, limits)
        if len(tensors) + len(header) > limits.max_tensors:
            raise Refused(RefusalKind.TENSOR_NAMES, f"more than {limits.max_tensors} tensors")
        for name, meta in header.items():
            if name in tensors:
                raise _bad_index(f"tensor {name[:80]!r} is stored in both {tensors[name].shard} and {shard}")
            if weight_map is not None and weight_map.get(name) != shard:
                raise _bad_index(f"{shard} holds {name[:80]!r}, which the index places in "
                                 f"{weight_map.get(name)!r:.80}")
            tensors[name] = meta
    if weight_map is not None and len(tensors) != len(weight_map):
        missing = sorted(set(weight_map) - set(tensors))
        raise _bad_index(f"tensor(s) {missing[:5]} are in no shard's header")
    return tensors
