"""Hostile configs: remote code, architectures, every size and value the model reads, layer maps, budgets."""

from __future__ import annotations

from node.refusal import RefusalKind as K

from .build import copy_model, edit_config
from .cases_files import gate, load
from .registry import case


def config_case(name: str, kind: K, family: str = "llama", target=load, drop: tuple[str, ...] = (), **changes):
    """Register a case that is a tiny model with `changes` made to its config."""

    def build(tmp):
        return target(edit_config(copy_model(tmp / "m", family), drop=drop, **changes))

    build.__name__ = name
    case("config", kind)(build)


# identity
config_case("auto_map_remote_code", K.REMOTE_CODE, auto_map={"AutoModelForCausalLM": "evil.Model"})
config_case("trust_remote_code_key", K.REMOTE_CODE, **{"trust_remote_code": True})  # a hostile key, refused
config_case("unknown_model_type", K.ARCHITECTURE, model_type="gpt2")
config_case("model_type_not_a_string", K.ARCHITECTURE, model_type=["llama"])
config_case("two_architectures", K.ARCHITECTURE, architectures=["LlamaForCausalLM", "Phi3ForCausalLM"])
config_case("architecture_of_other_family", K.ARCHITECTURE, architectures=["Phi3ForCausalLM"])
config_case("architecture_missing", K.ARCHITECTURE, drop=("architectures",))
config_case("quantization_config", K.BAD_CONFIG, quantization_config={"quant_method": "bitsandbytes"})
# sizes
config_case("num_hidden_layers_1e6", K.BAD_CONFIG, num_hidden_layers=1_000_000)
config_case("num_attention_heads_zero", K.BAD_CONFIG, num_attention_heads=0)
config_case("hidden_size_negative", K.BAD_CONFIG, hidden_size=-64)
config_case("intermediate_size_zero", K.BAD_CONFIG, intermediate_size=0)
config_case("vocab_size_string", K.BAD_CONFIG, vocab_size="96")
config_case("vocab_size_boolean", K.BAD_CONFIG, vocab_size=True)
config_case("vocab_size_float", K.BAD_CONFIG, vocab_size=96.0)
config_case("vocab_size_1e9", K.BAD_CONFIG, vocab_size=1_000_000_000)
config_case("kv_heads_not_dividing", K.BAD_CONFIG, num_key_value_heads=3)
config_case("kv_heads_above_heads", K.BAD_CONFIG, num_key_value_heads=8)
config_case("head_dim_odd", K.BAD_CONFIG, head_dim=15)
config_case("hidden_not_multiple_of_heads", K.BAD_CONFIG, hidden_size=66)
config_case("phi3_head_dim_null", K.BAD_CONFIG, family="phi3", head_dim=None)
config_case("max_position_embeddings_zero", K.BAD_CONFIG, max_position_embeddings=0)
# values the forward pass reads
config_case("pad_token_outside_vocab", K.BAD_CONFIG, pad_token_id=96)
config_case("bos_token_negative", K.BAD_CONFIG, bos_token_id=-1)
config_case("eos_list_with_bad_id", K.BAD_CONFIG, eos_token_id=[2, 10**6])
config_case("phi3_default_pad_outside_vocab", K.BAD_CONFIG, family="phi3", drop=("pad_token_id",))
config_case("unknown_rope_type", K.BAD_CONFIG, rope_parameters={"rope_type": "evil", "rope_theta": 10000.0})
config_case("rope_factor_not_a_number", K.BAD_CONFIG,
            rope_parameters={"rope_type": "linear", "factor": "two", "rope_theta": 10000.0})
config_case("rope_theta_negative", K.BAD_CONFIG, rope_parameters={"rope_type": "default", "rope_theta": -1.0})
config_case("rope_unknown_key", K.BAD_CONFIG,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "evil": 1})
config_case("rope_parameters_a_list", K.BAD_CONFIG, rope_parameters=[1, 2])
config_case("llama3_rope_missing_keys", K.BAD_CONFIG,
            rope_parameters={"rope_type": "llama3", "factor": 8.0, "rope_theta": 10000.0})
config_case("phi3_longrope_factor_length", K.BAD_CONFIG, family="phi3",
            rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0, "short_factor": [1.0] * 3,
                             "long_factor": [1.0] * 3, "partial_rotary_factor": 1.0})
config_case("unknown_hidden_act", K.BAD_CONFIG, hidden_act="evil_act")
config_case("dtype_int8", K.BAD_CONFIG, dtype="int8")
config_case("rms_norm_eps_zero", K.BAD_CONFIG, rms_norm_eps=0)
config_case("tie_word_embeddings_string", K.BAD_CONFIG, tie_word_embeddings="yes")
config_case("phi3_partial_rotary_1_5", K.BAD_CONFIG, family="phi3",
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 1.5})
config_case("phi3_partial_rotary_odd_dim", K.BAD_CONFIG, family="phi3",
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.2})
config_case("phi3_sliding_window_zero", K.BAD_CONFIG, family="phi3", sliding_window=0)
config_case("attention_dropout_above_one", K.BAD_CONFIG, attention_dropout=2.0)
# growth keys
config_case("layer_map_300k_positions", K.BAD_LAYER_MAP, layer_map=[0] * 300_000)
config_case("layer_map_huge_index", K.BAD_LAYER_MAP, num_hidden_layers=2, layer_map=[0, 10**9])
config_case("layer_map_unused_stored_layer", K.BAD_LAYER_MAP, layer_map=[0, 2, 2, 0])
config_case("layer_map_strings", K.BAD_LAYER_MAP, layer_map=["0", "1", "2", "3"])
config_case("layer_map_negative", K.BAD_LAYER_MAP, layer_map=[0, 1, 2, -1])
config_case("layer_map_empty", K.BAD_LAYER_MAP, layer_map=[])
config_case("norm_divisor_negative", K.BAD_LAYER_MAP, norm_divisor=-1)
config_case("norm_divisor_string", K.BAD_LAYER_MAP, norm_divisor="NaN")


@case("config", K.BAD_CONFIG)
def sequence_len_beyond_positions(tmp):
    return gate(copy_model(tmp / "m"), max_sequence_len=4096)


@case("config", K.ARCHITECTURE)
def phi3_in_llama_competition(tmp):
    return gate(copy_model(tmp / "m", "phi3"), allowed_architectures=frozenset({"LlamaForCausalLM"}))


# ---- parameters and memory, decided from the config before any header is read ----

@case("budget", K.TOO_MANY_PARAMETERS)
def parameters_over_competition_limit(tmp):
    return gate(copy_model(tmp / "m"), max_parameters=100_000)


@case("budget", K.TOO_MANY_PARAMETERS)
def layer_map_counts_stored_layers_once(tmp):
    """4 stored layers run 400 times: stored parameters are what counts, and they are over this limit."""
    path = edit_config(copy_model(tmp / "m"), num_hidden_layers=400, layer_map=[0, 1, 2, 3] * 100)
    return gate(path, max_parameters=150_000)


@case("budget", K.OVER_MEMORY)
def largest_tensor_over_budget(tmp):
    """Config and weights agree; the embedding alone is over a 16 KB budget."""
    return gate(copy_model(tmp / "m"), memory_budget_bytes=16_000)


@case("budget", K.OVER_MEMORY)
def embedding_of_256_gib(tmp):
    """1M x 65536 fp32 embedding: refused from the config alone, with the node's default budget."""
    path = edit_config(copy_model(tmp / "m"), vocab_size=1 << 20, hidden_size=1 << 16, num_attention_heads=1024,
                       num_key_value_heads=1024, head_dim=64)
    return gate(path)
