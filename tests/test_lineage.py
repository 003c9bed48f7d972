"""Lineage verification: passes on loss-preserving growth, fails on the classic mistakes.

The wrong children are built by hand: the seed post's naive zero padding (parent in the top-left
corner of every tensor, which is wrong once the query/KV group size changes) and a correctly
widened child whose config lost `norm_divisor` (plain-mean RMSNorm).
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from miner.growth import GrowthPlan, Heads, Hidden, Intermediate, Layers, NumLayers, Stack, Vocab, grow
from node.lineage import check_function, head_placement, verify_growth, verify_growth_isolated
from node.lineage.checkpoint import LazyCheckpoint
from node.lineage.samples import random_samples
from node.refusal import RefusalKind, Refused
from tiny_models import tiny_model

SAMPLES = random_samples(96, count=4, length=24, seed=5)


def make_parent(tmp_path, family="llama", dtype=torch.float32, **overrides):
    path = tmp_path / "parent"
    tiny_model(family, dtype=dtype, **overrides).save_pretrained(path)
    return path


def verify(parent, child, **kwargs):
    return verify_growth(parent, child, samples=SAMPLES, **kwargs)


@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_verify_passes_on_exact_growth(tmp_path, family):
    parent = make_parent(tmp_path, family)
    child = tmp_path / "child"
    grow(parent, child, GrowthPlan([Hidden(128), Heads(num_kv_heads=8), Intermediate(256), Layers("0-1,2-3*2,_")]))
    report = verify(parent, child)
    assert report.ok, report.summary()
    assert report.function.max_abs_delta == 0.0
    assert report.structure.carried_at == [0, 1, 2, 3]
    assert report.structure.identity_positions == [4, 5, 6]


def naive_zero_pad(parent, good_child, out):
    """The seed post's recipe: every parent tensor copied into the top-left corner, zeros elsewhere."""
    shutil.copytree(good_child, out)
    source, target = LazyCheckpoint(parent), LazyCheckpoint(good_child)
    tensors = {}
    for name in target.names:
        shape, dtype = target.meta[name]
        tensor = torch.zeros(shape, dtype=dtype)
        if name in source.meta:
            old = source.read(name)
            tensor[tuple(slice(0, n) for n in old.shape)] = old
        tensors[name] = tensor
    for file in out.glob("*.safetensors"):
        file.unlink()
    save_file(tensors, out / "model-00001-of-00001.safetensors", metadata={"format": "pt"})
    index = json.loads((out / "model.safetensors.index.json").read_text())
    index["weight_map"] = {n: "model-00001-of-00001.safetensors" for n in tensors}
    (out / "model.safetensors.index.json").write_text(json.dumps(index))


def test_verify_fails_on_naive_head_append_with_changed_group(tmp_path):
    parent = make_parent(tmp_path)
    good = tmp_path / "good"
    grow(parent, good, GrowthPlan([Hidden(128), Heads(8, 2)]))  # group 2 -> 4
    assert head_placement(4, 2, 8, 2)[0].src != tuple(range(4)) + (-1,) * 4  # re-slotting is needed
    naive = tmp_path / "naive"
    naive_zero_pad(parent, good, naive)
    report = verify(parent, naive)
    assert not report.ok
    assert any("q_proj" in issue or "o_proj" in issue for issue in report.structure.issues), report.summary()
    assert report.function is None  # a structurally failed child is never loaded and run
    assert check_function(parent, naive, SAMPLES).max_abs_delta > 0.01  # and it would indeed change the loss


def test_naive_zero_pad_is_fine_when_group_size_is_kept(tmp_path):
    """Control for the test above: with the group size unchanged the prefix placement is ours too."""
    parent = make_parent(tmp_path)
    good = tmp_path / "good"
    grow(parent, good, GrowthPlan([Hidden(128), Heads(8, 4), Intermediate(256)]))
    naive = tmp_path / "naive"
    naive_zero_pad(parent, good, naive)
    report = verify(parent, naive)  # zero readers are allowed: that is the "zeros" init
    assert report.ok and report.function.max_abs_delta == 0.0, report.summary()


@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_verify_fails_on_plain_mean_rmsnorm(tmp_path, family):
    parent = make_parent(tmp_path, family)
    child = tmp_path / "child"
    grow(parent, child, GrowthPlan([Hidden(128)]))
    config = json.loads((child / "config.json").read_text())
    del config["norm_divisor"]
    config["architectures"] = [config["architectures"][0].removeprefix("Sliced")]
    (child / "config.json").write_text(json.dumps(config))
    report = verify(parent, child)
    assert not report.ok
    assert any("divisor" in issue for issue in report.structure.issues)
    assert report.function is None
    assert check_function(parent, child, SAMPLES).max_abs_delta > 1e-3


def test_verify_fails_on_noisy_and_copied_writers(tmp_path):
    parent = make_parent(tmp_path)
    grow(parent, tmp_path / "noisy", GrowthPlan([Intermediate(192)], init="noisy", noise=1.0))
    grow(parent, tmp_path / "gstack", GrowthPlan([Stack(2, copy_writers=True)]))
    noisy = verify(parent, tmp_path / "noisy")
    assert not noisy.ok and "down_proj" in noisy.structure.issues[0]
    gstack = verify(parent, tmp_path / "gstack")
    assert not gstack.ok and "not an identity" in gstack.structure.issues[0]
    assert gstack.function is None
    assert check_function(parent, tmp_path / "gstack", SAMPLES).max_abs_delta > 1e-3


def test_vocab_growth_needs_explicit_acceptance(tmp_path):
    parent = make_parent(tmp_path, tie_word_embeddings=True)
    grow(parent, tmp_path / "child", GrowthPlan([Vocab(160)]))
    strict = verify(parent, tmp_path / "child")
    assert strict.structure.ok and strict.function.max_abs_delta == 0.0
    assert not strict.ok and strict.function.vocab_penalty > 0
    assert verify(parent, tmp_path / "child", allow_vocab_penalty=True).ok


def test_layer_map_equals_materialised_stacking(tmp_path):
    parent = make_parent(tmp_path)
    plan = [Hidden(96), Layers("0-3,1-2*2,3")]
    grow(parent, tmp_path / "copied", GrowthPlan([*plan[:1], Layers("0-3,1-2*2,3", copy_writers=True)]))
    virtual = grow(parent, tmp_path / "virtual", GrowthPlan(list(plan), layer_map=True))
    assert virtual.config["layer_map"] == [0, 1, 2, 3, 1, 2, 1, 2, 3]
    assert not virtual.exact  # tied copies re-run trained writers
    with safe_open(tmp_path / "virtual" / "model-00001-of-00001.safetensors", "pt") as handle:
        assert {int(n.split(".")[2]) for n in handle.keys() if n.startswith("model.layers.")} == {0, 1, 2, 3}  # noqa: SIM118
    a = check_function(parent, tmp_path / "copied", SAMPLES).child_losses  # neither is loss-preserving, so
    b = check_function(parent, tmp_path / "virtual", SAMPLES).child_losses  # verify_growth stops at structure
    assert a == b


def test_layer_map_with_fresh_layers_is_exact(tmp_path):
    parent = make_parent(tmp_path, "phi3")
    report = grow(parent, tmp_path / "child", GrowthPlan([Layers("0-1,_,2-3,_")], layer_map=True))
    assert report.exact and report.config["layer_map"] == [0, 1, 4, 2, 3, 5]
    result = verify(parent, tmp_path / "child")
    assert result.ok, result.summary()


def test_growth_of_a_layer_mapped_parent(tmp_path):
    """A parent that already ties layers: its positions are what depth operators act on."""
    parent = make_parent(tmp_path)
    grow(parent, tmp_path / "mapped", GrowthPlan([Layers("0-1,_,2-3,_")], layer_map=True))
    grow(tmp_path / "mapped", tmp_path / "grandchild", GrowthPlan([Hidden(96), NumLayers(8)]))
    report = verify(tmp_path / "mapped", tmp_path / "grandchild")
    assert report.ok, report.summary()


def test_isolated_verification_matches_and_times_out(tmp_path):
    parent = make_parent(tmp_path)
    child = tmp_path / "child"
    grow(parent, child, GrowthPlan([Intermediate(192)]))
    report = verify_growth_isolated(parent, child, timeout_s=300, samples=SAMPLES)
    assert report.ok and report.function.max_abs_delta == 0.0, report.summary()
    with pytest.raises(Refused) as refused:
        verify_growth_isolated(parent, child, timeout_s=0.01, samples=SAMPLES)
    assert refused.value.kind == RefusalKind.EVAL_TIMEOUT
