"""`check_model_dir`: the one gate a model folder passes before any of its tensors is read.

Everything here works from file metadata, bounded JSON and safetensors headers, so its time and
memory are bounded by the limits whatever the folder holds: the config is range-checked before its
class is built, the size of the model and of its largest tensor are computed from the config before
any header is read, and every stored tensor must be exactly one the config implies, in a floating
dtype, of exactly the implied shape. Anything else is `Refused` with its stable kind.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from node.refusal import RefusalKind, Refused

from .bounded_json import parse_json
from .config_check import ConfigShape, check_config
from .expected import INV_FREQ, LAYER_NAME, global_tensors, layer_tensors, stored_parameters
from .files import FolderListing, list_folder, read_limited
from .limits import ModelLimits
from .memory import available_memory_bytes
from .safetensors_header import FLOAT_DTYPES, TensorMeta
from .weights import INDEX_FILE, read_tensors

CONFIG_FILE = "config.json"
TOKENIZER_FILE = "tokenizer.json"
DEFAULT_MEMORY_FRACTION = 0.35


@dataclass(frozen=True)
class CheckedModel:
    """What the gate learnt about a folder it accepted."""

    config: Any  # the validated patched config (transformers_llama / transformers_phi3 config class)
    architecture: str
    parameters: int  # stored parameters
    total_bytes: int  # all files of the folder
    largest_tensor_bytes: int  # in the evaluation dtype
    files: tuple[str, ...]
    tensors: tuple[TensorMeta, ...] = ()


def default_memory_budget() -> int:
    """The node's default budget on CPU: a fraction of what this process may still allocate."""
    return int(available_memory_bytes() * DEFAULT_MEMORY_FRACTION)


def read_config(listing: FolderListing, limits: ModelLimits) -> dict[str, Any]:
    if CONFIG_FILE not in listing.sizes:
        raise Refused(RefusalKind.BAD_CONFIG, f"no regular {CONFIG_FILE} in the model folder")
    data = read_limited(listing.root / CONFIG_FILE, limits.max_config_bytes)
    return parse_json(data, CONFIG_FILE, max_depth=limits.max_json_depth, max_int_digits=limits.max_int_digits)


def check_side_files(listing: FolderListing, limits: ModelLimits) -> None:
    """Other JSON files (generation / tokenizer config) parsed with the same bounds; tokenizer.json sized."""
    for name in sorted(listing.sizes):
        if name == TOKENIZER_FILE:
            if listing.sizes[name] > limits.max_tokenizer_bytes:
                raise Refused(RefusalKind.FILE_TOO_LARGE, f"{name} is {listing.sizes[name]} bytes; the limit is "
                              f"{limits.max_tokenizer_bytes}")
        elif name.endswith(".json") and name not in (CONFIG_FILE, INDEX_FILE):
            parse_json(read_limited(listing.root / name, limits.max_json_bytes), name,
                       max_depth=limits.max_json_depth, max_int_digits=limits.max_int_digits)


def check_budget(shape: ConfigShape, limits: ModelLimits) -> int:
    """Parameters and the largest tensor from the config alone, before any header is read."""
    parameters = stored_parameters(shape)
    if limits.max_parameters is not None and parameters > limits.max_parameters:
        raise Refused(RefusalKind.TOO_MANY_PARAMETERS, f"the config implies {parameters} stored parameters; the "
                      f"competition allows {limits.max_parameters}")
    shapes = [*global_tensors(shape).values(), *layer_tensors(shape).values()]
    largest = max(math.prod(s) for s in shapes) * limits.eval_dtype_bytes
    budget = limits.memory_budget_bytes if limits.memory_budget_bytes is not None else default_memory_budget()
    if largest > budget:
        raise Refused(RefusalKind.OVER_MEMORY, f"its largest tensor needs {largest} bytes in {limits.eval_dtype}; "
                      f"the memory budget is {budget}")
    return largest


def check_tensors(tensors: dict[str, TensorMeta], shape: ConfigShape) -> int:
    """Names, dtypes and shapes against the config; returns the stored parameter count."""
    expected = dict(global_tensors(shape))
    per_layer = layer_tensors(shape)
    for layer in range(shape.stored_layers):
        expected.update({f"model.layers.{layer}.{suffix}": dims for suffix, dims in per_layer.items()})
    parameters = 0
    for name, meta in tensors.items():
        if meta.dtype not in FLOAT_DTYPES:
            raise Refused(RefusalKind.TENSOR_DTYPE, f"{name[:80]}: dtype {meta.dtype}; weights must be one of "
                          f"{sorted(FLOAT_DTYPES)}")
        dims = expected.get(name)
        if dims is None:
            layer = LAYER_NAME.fullmatch(name)
            if layer and layer.group(2) == INV_FREQ and int(layer.group(1)) < shape.stored_layers:
                if len(meta.shape) != 1 or not 1 <= meta.shape[0] <= shape.head_dim // 2:
                    raise Refused(RefusalKind.TENSOR_SHAPE, f"{name}: shape {list(meta.shape)} is not a rotary "
                                  "inv_freq buffer")
                continue  # a buffer transformers recomputes; never loaded
            if layer and int(layer.group(1)) >= shape.stored_layers:
                raise Refused(RefusalKind.TENSOR_NAMES, f"{name[:80]}: stored layer {layer.group(1)} is never run "
                              f"(the config stores {shape.stored_layers} layers)")
            raise Refused(RefusalKind.TENSOR_NAMES, f"unexpected tensor {name[:80]!r} for this "
                          f"{'tied' if shape.tied else 'untied'} {shape.model_type} config")
        if meta.shape != dims:
            raise Refused(RefusalKind.TENSOR_SHAPE, f"{name}: shape {list(meta.shape)}, but the config implies "
                          f"{list(dims)}")
        parameters += meta.numel
    missing = sorted(set(expected) - set(tensors))
    if missing:
        raise Refused(RefusalKind.TENSOR_NAMES, f"{len(missing)} tensor(s) missing, e.g. {missing[:3]}")
    return parameters


def check_model_dir(path: str | os.PathLike[str], limits: ModelLimits = ModelLimits()) -> CheckedModel:  # noqa: B008
    """Accept a model folder or raise `Refused`; reads metadata only (no tensor data)."""
    listing = list_folder(path, limits)
    raw = read_config(listing, limits)
    family, shape, config = check_config(raw, limits)
    check_side_files(listing, limits)
    largest = check_budget(shape, limits)
    tensors = read_tensors(listing, limits)
    parameters = check_tensors(tensors, shape)
    return CheckedModel(config, raw["architectures"][0], parameters, listing.total_bytes, largest,
                        tuple(sorted(listing.sizes)), tuple(tensors.values()))
