"""What a model folder may cost before anything is allocated: the gate's limits, one frozen record.

Every limit exists because some hostile input turns an unbounded quantity into time or memory:
file sizes bound reading, header bytes and tensor counts bound parsing, depth / width / vocabulary
bound the config the patched classes would build, and the memory budget bounds the one tensor a
loader materialises at a time. Defaults are far above any real SN29 model (SmolLM2-135M up to
multi-billion-parameter Llamas) and far below what would hurt a validator.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

GIB = 1 << 30
MIB = 1 << 20

EVAL_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


@dataclass(frozen=True)
class ModelLimits:
    """Bounds a model folder must satisfy; `None` means "no competition limit" where allowed."""

    allowed_architectures: frozenset[str] | None = None  # exact class names; None: every family's names
    max_parameters: int | None = None  # stored parameters (a layer_map's stored layers once each)
    max_total_bytes: int | None = None  # all files of the folder together
    max_sequence_len: int | None = None  # the competition's sequence length; max_position_embeddings must reach it
    memory_budget_bytes: int | None = None  # None: the node's default budget (engine.memory_budget)
    eval_dtype: str = "float32"
    max_file_bytes: int = 64 * GIB  # one file
    max_config_bytes: int = 1 * MIB  # config.json
    max_json_bytes: int = 4 * MIB  # other JSON files: generation_config.json, tokenizer_config.json
    max_index_bytes: int = 8 * MIB  # model.safetensors.index.json
    max_tokenizer_bytes: int = 64 * MIB  # tokenizer.json
    max_header_bytes: int = 8 * MIB  # one safetensors header
    max_files: int = 256  # entries in the folder
    max_shards: int = 128
    max_tensors: int = 20_000
    max_json_depth: int = 32
    max_int_digits: int = 40  # any JSON integer (HF writes model_max_length as int(1e30): 31 digits)
    max_layers: int = 1024  # executed positions (num_hidden_layers, layer_map length)
    max_vocab: int = 1 << 20
    max_hidden: int = 1 << 16
    max_intermediate: int = 1 << 18
    max_heads: int = 1024
    max_position_embeddings: int = 1 << 21

    def __post_init__(self) -> None:
        if self.eval_dtype not in EVAL_DTYPE_BYTES:
            raise ValueError(f"eval_dtype must be one of {sorted(EVAL_DTYPE_BYTES)}, got {self.eval_dtype!r}")
        if self.allowed_architectures is not None and not isinstance(self.allowed_architectures, frozenset):
            object.__setattr__(self, "allowed_architectures", frozenset(self.allowed_architectures))
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in ("allowed_architectures", "eval_dtype") or value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"ModelLimits.{item.name} must be a positive integer, got {value!r}")

    @property
    def eval_dtype_bytes(self) -> int:
        return EVAL_DTYPE_BYTES[self.eval_dtype]
