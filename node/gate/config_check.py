"""`config.json` checked field by field before the transformers config class is constructed.

Order matters: remote code and the architecture first (they decide whether anything else is read),
then every size the model allocates from (positive, bounded, divisible where the attention needs
it), then the values the forward pass reads (activation, rope, special token ids, Phi3's partial
rotary factor and sliding window), then the growth keys (`layer_map`, `norm_divisor`). Only then is
the patched config class built; anything it still objects to is BAD_CONFIG with its message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from node.refusal import RefusalKind, Refused

from .config_fields import bad, boolean, is_int, is_number, number_in, one_of, optional_int, positive_int, token_id
from .limits import ModelLimits
from .rope import check_rope

if TYPE_CHECKING:
    from node.modeling.families import ModelFamily

REMOTE_CODE_KEYS = ("auto_map", "trust_remote_code", "custom_pipelines")
FORBIDDEN_KEYS = ("quantization_config",)
ACTIVATIONS = frozenset({"silu", "swish", "gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh", "gelu_accurate",
                         "quick_gelu", "relu", "relu2", "tanh", "sigmoid"})
CONFIG_DTYPES = frozenset({"float32", "bfloat16", "float16"})


@dataclass(frozen=True)
class ConfigShape:
    """The sizes the expected tensors follow from (all checked)."""

    model_type: str
    vocab: int
    hidden: int
    intermediate: int
    positions: int  # executed layers (num_hidden_layers)
    stored_layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool
    attention_bias: bool
    mlp_bias: bool


def families() -> dict[str, ModelFamily]:
    """The families the node accepts (imported late: node.modeling's loader imports this gate)."""
    from node.modeling.families import FAMILIES

    return FAMILIES


def check_identity(raw: Mapping[str, Any], limits: ModelLimits) -> ModelFamily:
    """Remote code, model_type and the exact architecture name."""
    FAMILIES = families()  # noqa: N806
    for key in REMOTE_CODE_KEYS:
        if key in raw:
            raise Refused(RefusalKind.REMOTE_CODE, f"config.json has {key!r}: remote code (the model's own code) "
                          "is never run")
    model_type = raw.get("model_type")
    family = FAMILIES.get(model_type) if isinstance(model_type, str) else None
    if family is None:
        raise Refused(RefusalKind.ARCHITECTURE, f"unsupported model_type {model_type!r:.60}; expected one of "
                      f"{sorted(FAMILIES)}")
    allowed = family.architectures
    if limits.allowed_architectures is not None:
        allowed = allowed & limits.allowed_architectures
    architectures = raw.get("architectures")
    if not isinstance(architectures, list) or len(architectures) != 1 or architectures[0] not in allowed:
        competition = "" if limits.allowed_architectures is None else \
            f" (the competition allows {sorted(limits.allowed_architectures)})"
        raise Refused(RefusalKind.ARCHITECTURE, f"architectures {architectures!r:.120} is not exactly one of "
                      f"{sorted(allowed)}{competition}")
    for key in FORBIDDEN_KEYS:
        if raw.get(key) is not None:
            raise bad(key, "quantized checkpoints are not evaluated")
    return family


def check_sizes(raw: Mapping[str, Any], model_type: str, limits: ModelLimits) -> ConfigShape:
    vocab = positive_int(raw, "vocab_size", limits.max_vocab)
    hidden = positive_int(raw, "hidden_size", limits.max_hidden)
    intermediate = positive_int(raw, "intermediate_size", limits.max_intermediate)
    positions = positive_int(raw, "num_hidden_layers", limits.max_layers)
    heads = positive_int(raw, "num_attention_heads", limits.max_heads)
    kv_heads = raw.get("num_key_value_heads")
    kv_heads = heads if kv_heads is None else positive_int(raw, "num_key_value_heads", heads)
    if heads % kv_heads:
        raise bad("num_key_value_heads", f"{kv_heads} does not divide num_attention_heads {heads}")
    if model_type == "phi3" and "head_dim" in raw and raw["head_dim"] is None:
        raise bad("head_dim", "Phi3 reads head_dim when the key is present; it must be an integer")
    if raw.get("head_dim") is not None:
        head_dim = positive_int(raw, "head_dim", limits.max_hidden)
    else:
        if hidden % heads:
            raise bad("hidden_size", f"{hidden} is not a multiple of num_attention_heads {heads} (and no head_dim)")
        head_dim = hidden // heads
    if model_type == "llama" and hidden % heads:
        raise bad("hidden_size", f"{hidden} is not a multiple of num_attention_heads {heads}")
    if head_dim % 2:
        raise bad("head_dim", f"{head_dim} is odd; rotary embeddings rotate pairs")
    stored = _check_layer_map(raw, positions)
    llama = model_type == "llama"
    return ConfigShape(model_type, vocab, hidden, intermediate, positions, stored, heads, kv_heads, head_dim,
                       boolean(raw, "tie_word_embeddings", False),
                       boolean(raw, "attention_bias", False) if llama else False,
                       boolean(raw, "mlp_bias", False) if llama else False)


def _check_layer_map(raw: Mapping[str, Any], positions: int) -> int:
    """Stored layers; the layer map is checked in time linear in its (already bounded) length."""
    divisor = raw.get("norm_divisor")
    if divisor is not None and (not is_number(divisor) or not 0 < divisor <= 1e12):
        raise Refused(RefusalKind.BAD_LAYER_MAP, f"norm_divisor {divisor!r:.60} is not a positive finite number")
    layer_map = raw.get("layer_map")
    if layer_map is None:
        return positions
    if not isinstance(layer_map, list) or not layer_map:
        raise Refused(RefusalKind.BAD_LAYER_MAP, f"layer_map must be a non-empty list, got {layer_map!r:.60}")
    if len(layer_map) != positions:
        raise Refused(RefusalKind.BAD_LAYER_MAP, f"layer_map has {len(layer_map)} positions but num_hidden_layers "
                      f"is {positions}")
    if not all(is_int(i) and 0 <= i < positions for i in layer_map):
        raise Refused(RefusalKind.BAD_LAYER_MAP, f"layer_map entries must be stored layer indices in [0, {positions})")
    stored = max(layer_map) + 1
    unused = sorted(set(range(stored)) - set(layer_map))
    if unused:
        raise Refused(RefusalKind.BAD_LAYER_MAP, f"layer_map never runs stored layer(s) {unused[:10]}")
    return stored


def check_behaviour(raw: Mapping[str, Any], shape: ConfigShape, limits: ModelLimits) -> None:
    """Values the forward pass reads."""
    max_positions = positive_int(raw, "max_position_embeddings", limits.max_position_embeddings)
    if limits.max_sequence_len is not None and max_positions < limits.max_sequence_len:
        raise bad("max_position_embeddings", f"{max_positions} is below the competition's sequence length "
                  f"{limits.max_sequence_len}")
    one_of(raw, "hidden_act", ACTIVATIONS, "silu")
    for key in ("dtype", "torch_dtype"):
        one_of(raw, key, CONFIG_DTYPES, None)
    number_in(raw, "rms_norm_eps", 0.0, 1.0, default=1e-6, open_lower=True)
    for key in ("attention_dropout", "resid_pdrop", "embd_pdrop"):
        number_in(raw, key, 0.0, 1.0, default=0.0)
    defaults = families()[shape.model_type].config_class.__dataclass_fields__
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):  # an absent id takes the class default
        token_id(raw if key in raw else {key: defaults[key].default}, key, shape.vocab)
    boolean(raw, "use_cache", True)
    check_rope(raw, shape.model_type, shape.head_dim, limits.max_position_embeddings)
    if shape.model_type == "phi3":
        optional_int(raw, "sliding_window", 1, limits.max_position_embeddings)
        if "original_max_position_embeddings" in raw:
            positive_int(raw, "original_max_position_embeddings", limits.max_position_embeddings)


def build_config(raw: dict[str, Any], family: ModelFamily):
    """The patched config object, from a dict that passed every check above."""
    try:
        config = family.config_class.from_dict(dict(raw))
    except Refused:
        raise
    except Exception as exc:  # strict dataclass validation raises several types
        raise Refused(RefusalKind.BAD_CONFIG, f"config rejected by {family.config_class.__name__}: "
                      f"{type(exc).__name__}: {str(exc)[:300]}") from None
    if not isinstance(config.rope_parameters, dict):
        raise bad("rope_parameters", "did not standardise to one parameter set")
    return config


def check_config(raw: object, limits: ModelLimits) -> tuple[ModelFamily, ConfigShape, Any]:
    if not isinstance(raw, dict):
        raise Refused(RefusalKind.BAD_CONFIG, "config.json must hold a JSON object")
    family = check_identity(raw, limits)
    shape = check_sizes(raw, family.model_type, limits)
    check_behaviour(raw, shape, limits)
    return family, shape, build_config(raw, family)
