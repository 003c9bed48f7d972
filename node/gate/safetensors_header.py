"""Safetensors headers read by us, from the first 8 bytes and a bounded JSON header, data never touched.

Format: 8 bytes little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets},
"__metadata__": {str: str}}`, then the data section. Offsets are relative to the data section. We
check what the safetensors library would trip over later (or not check at all): the header fits in
the file and in our limit, every entry has exactly the three keys with the right types, the byte
length of each tensor equals prod(shape) x the dtype's size, and the tensors lie inside the data
section without overlapping.
"""

from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from node.refusal import RefusalKind, Refused

from .bounded_json import parse_json
from .files import open_regular, read_exact
from .limits import ModelLimits

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16"})
ENTRY_KEYS = frozenset({"dtype", "shape", "data_offsets"})
MAX_RANK = 8


@dataclass(frozen=True)
class TensorMeta:
    name: str
    dtype: str
    shape: tuple[int, ...]
    shard: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


def _bad(shard: str, message: str) -> Refused:
    return Refused(RefusalKind.BAD_SAFETENSORS, f"{shard}: {message}")


def _int_list(value: object, what: str, shard: str, *, length: int | None = None) -> tuple[int, ...]:
    if not isinstance(value, list) or (length is not None and len(value) != length) or len(value) > MAX_RANK:
        raise _bad(shard, f"{what} must be a list of {length or 'at most 8'} non-negative integers, got {value!r:.80}")
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in value):
        raise _bad(shard, f"{what} must hold non-negative integers, got {value!r:.80}")
    return tuple(value)


def read_header(path: str | os.PathLike[str], limits: ModelLimits) -> dict[str, TensorMeta]:
    """Name -> metadata of every tensor in one safetensors file; BAD_SAFETENSORS for any inconsistency."""
    shard = Path(path).name
    fd, size = open_regular(path)
    try:
        if size < 8:
            raise _bad(shard, f"{size} bytes: too short for a safetensors header")
        (length,) = struct.unpack("<Q", read_exact(fd, 0, 8, shard))
        if length > limits.max_header_bytes:
            raise _bad(shard, f"header of {length} bytes; the limit is {limits.max_header_bytes}")
        if 8 + length > size:
            raise _bad(shard, f"header claims {length} bytes but the file has {size}")
        raw = read_exact(fd, 8, length, shard)
    finally:
        os.close(fd)
    if not raw.startswith(b"{"):
        raise _bad(shard, "header does not start with '{'")
    try:
        header = parse_json(raw, f"{shard} header", max_depth=3, max_int_digits=limits.max_int_digits)
    except Refused as exc:
        raise _bad(shard, exc.message) from None
    if not isinstance(header, dict):
        raise _bad(shard, "header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise _bad(shard, "__metadata__ must map strings to strings")
    if len(header) > limits.max_tensors:
        raise Refused(RefusalKind.TENSOR_NAMES, f"{shard} holds {len(header)} tensors; the limit is "
                      f"{limits.max_tensors}")
    data_size = size - 8 - length
    spans = []
    tensors: dict[str, TensorMeta] = {}
    for name, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
            raise _bad(shard, f"tensor {name[:80]!r} must have exactly the keys {sorted(ENTRY_KEYS)}")
        dtype = entry["dtype"]
        if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
            raise _bad(shard, f"tensor {name[:80]!r} has unknown dtype {dtype!r:.40}")
        shape = _int_list(entry["shape"], f"shape of {name[:80]!r}", shard)
        begin, end = _int_list(entry["data_offsets"], f"data_offsets of {name[:80]!r}", shard, length=2)
        expected = math.prod(shape) * DTYPE_BYTES[dtype]
        if end < begin or end - begin != expected:
            raise _bad(shard, f"tensor {name[:80]!r}: offsets [{begin}, {end}] hold {end - begin} bytes, but "
                       f"{dtype}{list(shape)} needs {expected}")
        if end > data_size:
            raise _bad(shard, f"tensor {name[:80]!r} ends at byte {end} of a {data_size}-byte data section")
        spans.append((begin, end, name))
        tensors[name] = TensorMeta(name, dtype, shape, shard)
    spans.sort()
    position = 0  # like the safetensors library: the tensors tile the data section, no gap, no overlap
    for begin, end, name in spans:
        if begin != position:
            what = "overlaps the tensor before it" if begin < position else f"leaves a gap at byte {position}"
            raise _bad(shard, f"tensor {name[:60]!r} {what}")
        position = end
    if position != data_size:
        raise _bad(shard, f"the tensors cover {position} of the {data_size} data bytes")
    return tensors
