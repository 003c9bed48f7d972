"""Building blocks for hostile inputs: tiny random models, and edits of their config, headers and tensors.

The hostile inputs of the registry are tiny valid models (a few hundred KB) with one thing changed,
so each case isolates one rule of the gate. Base models are built once per process and copied.
"""

from __future__ import annotations

import json
import shutil
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

TINY = dict(vocab_size=96, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, max_position_embeddings=256, pad_token_id=0, bos_token_id=1,
            eos_token_id=2)
WEIGHTS = "model.safetensors"
_BASES: dict[tuple, Path] = {}
_BASE_ROOT: Path | None = None


def tiny_model(family: str, seed: int = 0, **overrides: Any):
    """A random tiny patched model (norm weights away from 1, so norms are exercised)."""
    import transformers_llama
    import transformers_phi3

    cls = {"llama": transformers_llama.LlamaForCausalLM, "phi3": transformers_phi3.Phi3ForCausalLM}[family]
    torch.manual_seed(seed)
    model = cls(cls.config_class(**{**TINY, **overrides}))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.uniform_(0.5, 1.5)
    return model.eval()


def base_dir(family: str = "llama", **overrides: Any) -> Path:
    """A saved tiny model, built once per process for each (family, overrides)."""
    global _BASE_ROOT
    key = (family, tuple(sorted((k, json.dumps(v)) for k, v in overrides.items())))
    if key not in _BASES:
        _BASE_ROOT = _BASE_ROOT or Path(tempfile.mkdtemp(prefix="sn29-adversarial-bases-"))
        path = _BASE_ROOT / f"base{len(_BASES)}"
        tiny_model(family, **overrides).save_pretrained(path)
        _BASES[key] = path
    return _BASES[key]


def copy_model(dst: Path, family: str = "llama", **overrides: Any) -> Path:
    """A fresh copy of a base tiny model at `dst`."""
    shutil.copytree(base_dir(family, **overrides), dst)
    return dst


def read_config(path: Path) -> dict[str, Any]:
    return json.loads((path / "config.json").read_text())


def edit_config(path: Path, drop: tuple[str, ...] = (), **changes: Any) -> Path:
    config = read_config(path) | changes
    for key in drop:
        config.pop(key, None)
    (path / "config.json").write_text(json.dumps(config))
    return path


def write_config_text(path: Path, text: str | bytes) -> Path:
    target = path / "config.json"
    target.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def split_safetensors(file: Path) -> tuple[dict[str, Any], bytes]:
    data = file.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8 : 8 + length]), data[8 + length :]


def write_safetensors(file: Path, header: dict[str, Any], body: bytes, *, declared_length: int | None = None) -> None:
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    length = len(raw) if declared_length is None else declared_length
    file.write_bytes(struct.pack("<Q", length) + raw + body)


def edit_header(path: Path, edit: Callable[[dict[str, Any]], None], file: str = WEIGHTS) -> Path:
    """Change the header's JSON in place, keeping the data section."""
    header, body = split_safetensors(path / file)
    edit(header)
    write_safetensors(path / file, header, body)
    return path


def edit_tensors(path: Path, edit: Callable[[dict[str, torch.Tensor]], None], file: str = WEIGHTS) -> Path:
    """Load, change and re-save the tensors of one file (a valid safetensors file with other contents)."""
    tensors = load_file(path / file)
    edit(tensors)
    save_file({k: v.contiguous() for k, v in tensors.items()}, path / file, metadata={"format": "pt"})
    return path


def write_raw_tensors(file: Path, tensors: dict[str, torch.Tensor], sparse: dict[str, tuple[str, list[int], int]]):
    """A safetensors file laid out by hand: `tensors` as they are, then `sparse` entries (name -> dtype, shape,
    bytes) as a hole at the end of the file (no disk space), so a header can claim a huge tensor cheaply."""
    codes = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.int32: "I32"}
    header: dict[str, Any] = {}
    chunks, offset = [], 0
    for name, tensor in tensors.items():
        data = tensor.contiguous().view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": codes[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    for name, (dtype, shape, size) in sparse.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(file, "wb") as handle:
        handle.write(struct.pack("<Q", len(raw)) + raw + b"".join(chunks))
        handle.truncate(8 + len(raw) + offset)


def sparse_file(file: Path, size: int) -> Path:
    """A file of `size` bytes that takes no disk space (its size is all a size check looks at)."""
    with open(file, "wb") as handle:
        handle.truncate(size)
    return file


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def minimal_tokenizer_json(vocab: dict[str, int] | None = None, pre_tokenizer: dict | None = None) -> str:
    """A word-level tokenizer.json (no downloads): each character a token, plus <|endoftext|>."""
    vocab = vocab or {**{chr(c): i for i, c in enumerate(range(97, 123))}, " ": 26, "<|endoftext|>": 27}
    return json.dumps({
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": vocab["<|endoftext|>"], "content": "<|endoftext|>", "single_word": False,
                          "lstrip": False, "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer or {"type": "Split", "pattern": {"Regex": "."}, "behavior": "Isolated",
                                           "invert": False},
        "post_processor": None, "decoder": {"type": "Fuse"},
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "<|endoftext|>"},
    })
