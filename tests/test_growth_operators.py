"""Every growth operator, and a composed plan, on tiny random Llama/Phi3 models in fp32 and bf16.

Where FACTS section 3 says a change is exact, the child's logits must equal the parent's bit for
bit (max |dlogit| == 0), after a round trip through the streamed checkpoint writer.
"""

from __future__ import annotations

import pytest
import torch

from miner.growth import (
    Dtype,
    GrowthPlan,
    Heads,
    Hidden,
    Insert,
    Intermediate,
    Interpolate,
    Layers,
    NumLayers,
    Stack,
    Vocab,
    grow,
)
from node.modeling import load_model_for_eval
from tiny_models import random_ids, tiny_model

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
# tiny: hidden 64, intermediate 128, 4 layers, 4 query / 2 KV heads (group 2), head_dim 16, vocab 96
EXACT_PLANS = {
    "hidden": [Hidden(96)],  # 6 heads / 3 KV heads: group size kept
    "intermediate": [Intermediate(192)],
    "heads_same_group": [Hidden(128), Heads(8, 4)],
    "heads_group_grows": [Hidden(128), Heads(8, 2)],  # group 2 -> 4: queries re-slotted
    "heads_group_shrinks": [Hidden(128), Heads(8, 8)],  # group 2 -> 1: KV heads duplicated
    "stack": [Stack(2)],
    "interpolate": [Interpolate(2)],
    "partial_stack": [Layers("0-1,2-3*3,3")],
    "fresh_layers": [Layers("0,_,1-3,_")],
    "insert": [Insert(after=[-1, 1, 3])],
    "num_layers": [NumLayers(7)],
    "dtype_fp32": [Dtype("float32")],
    "composed": [Hidden(128), Intermediate(256), Heads(num_kv_heads=8), Stack(2), Insert(after=[0], source="fresh")],
}


def save_tiny(tmp_path, family: str, dtype: torch.dtype, **overrides):
    parent = tmp_path / "parent"
    tiny_model(family, dtype=dtype, **overrides).save_pretrained(parent)
    return parent


def logits(path, dtype: torch.dtype, vocab: int | None = None) -> torch.Tensor:
    model = load_model_for_eval(path, dtype=dtype)
    with torch.no_grad():
        out = model(random_ids(96, batch=2, length=23)).logits.float()
    return out if vocab is None else out[..., :vocab]


@pytest.mark.parametrize("dtype", sorted(DTYPES))
@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_exact_operators(tmp_path, family, dtype):
    torch_dtype = DTYPES[dtype]
    parent = save_tiny(tmp_path, family, torch_dtype)
    reference = logits(parent, torch_dtype)
    for name, ops in EXACT_PLANS.items():
        child = tmp_path / name
        report = grow(parent, child, GrowthPlan(list(ops), seed=7))
        assert report.exact, (name, report.notes)
        delta = (logits(child, torch_dtype) - reference).abs().max().item()
        assert delta == 0.0, f"{family} {dtype} {name}: max |dlogit| = {delta}"


@pytest.mark.parametrize("init", ["zeros", "exact"])
def test_init_strategies_exact(tmp_path, init):
    parent = save_tiny(tmp_path, "llama", torch.float32)
    child = tmp_path / "child"
    grow(parent, child, GrowthPlan([Hidden(96), Intermediate(160), Stack(2)], init=init))
    assert (logits(child, torch.float32) - logits(parent, torch.float32)).abs().max().item() == 0.0


def test_noisy_init_changes_loss_and_says_so(tmp_path):
    parent = save_tiny(tmp_path, "llama", torch.float32)
    report = grow(parent, tmp_path / "child", GrowthPlan([Intermediate(192), Stack(2)], init="noisy", noise=0.5))
    assert not report.exact and any("noisy" in note for note in report.notes)
    delta = (logits(tmp_path / "child", torch.float32) - logits(parent, torch.float32)).abs().max().item()
    assert 0.0 < delta < 1.0


@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_vocab_growth_preserves_old_logits_only(tmp_path, family, tied):
    parent = save_tiny(tmp_path, family, torch.float32, tie_word_embeddings=tied)
    report = grow(parent, tmp_path / "child", GrowthPlan([Vocab(128)]))
    assert not report.exact and "vocabulary" in report.notes[0]
    child = logits(tmp_path / "child", torch.float32)
    assert (child[..., :96] - logits(parent, torch.float32)).abs().max().item() == 0.0
    assert child[..., 96:].abs().max().item() == 0.0  # new tokens: logit exactly 0


def test_copy_writers_stack_is_reported_not_exact(tmp_path):
    parent = save_tiny(tmp_path, "llama", torch.float32)
    report = grow(parent, tmp_path / "child", GrowthPlan([Stack(2, copy_writers=True)]))
    assert not report.exact
    assert (logits(tmp_path / "child", torch.float32) - logits(parent, torch.float32)).abs().max().item() > 1e-3


def test_bf16_to_fp32_and_narrowing_reported(tmp_path):
    parent = save_tiny(tmp_path, "phi3", torch.float32)
    report = grow(parent, tmp_path / "child", GrowthPlan([Dtype("bfloat16")]))
    assert not report.exact and "rounds" in report.notes[0]
    assert report.config["dtype"] == "bfloat16"


def test_growth_is_reproducible_from_its_seed(tmp_path):
    parent = save_tiny(tmp_path, "llama", torch.float32)
    plan = [Hidden(96), Intermediate(192), Stack(2)]
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        grow(parent, tmp_path / name, GrowthPlan(list(plan), seed=seed))
    files = {n: (tmp_path / n / "model-00001-of-00001.safetensors").read_bytes() for n in "abc"}
    assert files["a"] == files["b"] != files["c"]


@pytest.mark.parametrize(
    ("family", "ops", "message"),
    [
        ("llama", [Hidden(32)], "shrink"),
        ("llama", [Hidden(72)], "multiple of head_dim"),
        ("phi3", [Heads(8, 4)], "Phi3 derives head_dim"),
        ("llama", [Hidden(128), Heads(8, 8), Heads(num_kv_heads=3)], "multiple"),
        ("llama", [Layers("0-9")], "does not exist"),
    ],
)
def test_invalid_plans_rejected_before_writing(tmp_path, family, ops, message):
    parent = save_tiny(tmp_path, family, torch.float32)
    with pytest.raises(ValueError, match=message):
        grow(parent, tmp_path / "child", GrowthPlan(ops))
    assert not (tmp_path / "child").exists()


def test_dropping_or_reordering_layers_is_flagged(tmp_path):
    parent = save_tiny(tmp_path, "llama", torch.float32)
    report = grow(parent, tmp_path / "child", GrowthPlan([Layers("3,0-2")]))
    assert not report.exact and "in order" in report.notes[0]


def test_llama_heads_without_hidden_and_biases(tmp_path):
    """Llama keeps head_dim in its config, so heads may grow alone; biases follow their weights' rows."""
    parent = save_tiny(tmp_path, "llama", torch.float32, attention_bias=True, mlp_bias=True)
    plans = {"heads": [Heads(8, 2)], "all": [Hidden(96), Intermediate(192), Stack(2), Heads(num_kv_heads=6)]}
    for name, ops in plans.items():
        report = grow(parent, tmp_path / name, GrowthPlan(ops))
        assert report.exact
        assert (logits(tmp_path / name, torch.float32) - logits(parent, torch.float32)).abs().max().item() == 0.0
