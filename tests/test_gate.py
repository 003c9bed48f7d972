"""The gate's own rules, in process: expected tensors match the real classes, bounded JSON, memory budget."""

from __future__ import annotations

import json

import pytest
import torch

from node.gate import ModelLimits, check_model_dir
from node.gate.bounded_json import nesting_depth, parse_json
from node.gate.config_check import check_sizes
from node.gate.expected import global_tensors, layer_tensors
from node.gate.memory import available_memory_bytes, cgroup_remaining_bytes
from node.refusal import RefusalKind, Refused
from tiny_models import FAMILIES, TINY, tiny_model

CONFIGS = [
    ("llama", {}),
    ("llama", {"tie_word_embeddings": True}),
    ("llama", {"attention_bias": True, "mlp_bias": True}),
    ("llama", {"num_hidden_layers": 6, "layer_map": [0, 1, 2, 3, 3, 2]}),
    ("llama", {"num_key_value_heads": 1, "head_dim": 32, "hidden_size": 64, "num_attention_heads": 2}),
    ("phi3", {}),
    ("phi3", {"tie_word_embeddings": True, "num_key_value_heads": 4}),
    ("phi3", {"layer_map": [1, 0, 0, 1]}),
    ("llama", {"head_dim": 32}),
    ("phi3", {"head_dim": 32}),
]


@pytest.mark.parametrize(("family", "overrides"), CONFIGS)
def test_expected_tensors_equal_the_patched_class(family, overrides):
    """The gate's arithmetic against the model the loader builds (on the meta device: no allocation)."""
    config = FAMILIES[family].config_class(**{**TINY, **overrides})
    with torch.device("meta"):
        model = FAMILIES[family](config)
    actual = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    if config.tie_word_embeddings:
        actual.pop("lm_head.weight")
    shape = check_sizes(json.loads(config.to_json_string()), family, ModelLimits())
    expected = dict(global_tensors(shape))
    for layer in range(shape.stored_layers):
        expected.update({f"model.layers.{layer}.{k}": v for k, v in layer_tensors(shape).items()})
    assert expected == actual


def test_checked_model_reports_what_it_measured(tmp_path):
    model = tiny_model("llama", tie_word_embeddings=True)
    model.save_pretrained(tmp_path)
    checked = check_model_dir(tmp_path, ModelLimits(eval_dtype="bfloat16"))
    assert checked.parameters == model.num_parameters()
    assert checked.largest_tensor_bytes == 128 * 64 * 2  # the MLP projections, in bf16
    assert checked.architecture == "LlamaForCausalLM" and "config.json" in checked.files
    assert checked.total_bytes == sum(p.stat().st_size for p in tmp_path.iterdir())


def test_nesting_depth_ignores_brackets_in_strings():
    assert nesting_depth(b'{"a": "[[[[{{{{", "b": [[1]]}') == 3
    assert nesting_depth(b'["\\"[[[["]') == 1


def test_parse_json_limits_and_values():
    assert parse_json(b'\xef\xbb\xbf{"a": [1, 2.5, "x"]}', "t") == {"a": [1, 2.5, "x"]}
    for bad in (b"[" * 40 + b"]" * 40, b'{"a": 1' + b"0" * 50 + b"}", b"[Infinity]", b'{"a": 1, "a": 2}'):
        with pytest.raises(Refused) as refused:
            parse_json(bad, "t")
        assert refused.value.kind == RefusalKind.BAD_JSON


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_cgroup_v2_tightest_ancestor(tmp_path):
    root = tmp_path / "cg"
    write(tmp_path / "self", "0::/a/b\n")
    write(root / "a" / "memory.max", "1000\n")
    write(root / "a" / "memory.current", "400\n")
    write(root / "a" / "b" / "memory.max", "max\n")
    write(root / "a" / "b" / "memory.current", "300\n")
    assert cgroup_remaining_bytes(root, tmp_path / "self") == 600
    write(root / "a" / "b" / "memory.max", "500\n")
    assert cgroup_remaining_bytes(root, tmp_path / "self") == 200


def test_cgroup_v1_and_unlimited(tmp_path):
    root = tmp_path / "cg"
    write(tmp_path / "self", "4:memory:/job\n3:cpu:/job\n")
    write(root / "memory" / "job" / "memory.limit_in_bytes", "2048\n")
    write(root / "memory" / "job" / "memory.usage_in_bytes", "48\n")
    assert cgroup_remaining_bytes(root, tmp_path / "self") == 2000
    write(root / "memory" / "job" / "memory.limit_in_bytes", str(2**63 - 4096))
    assert cgroup_remaining_bytes(root, tmp_path / "self") is None
    assert cgroup_remaining_bytes(root, tmp_path / "missing") is None


def test_available_memory_is_positive_and_below_ram():
    import psutil

    assert 0 < available_memory_bytes() <= psutil.virtual_memory().available


def test_limits_reject_unknown_and_bad_values():
    with pytest.raises(TypeError):
        ModelLimits(max_layer=3)  # a typo is an error, not a silently ignored limit
    with pytest.raises(ValueError, match="max_tensors"):
        ModelLimits(max_tensors=0)
    with pytest.raises(ValueError, match="eval_dtype"):
        ModelLimits(eval_dtype="int8")
