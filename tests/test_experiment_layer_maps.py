"""The `layer-maps` experiment: its maps, tied scoring through `layer_map`, copies, and a micro run end to end."""

from __future__ import annotations

import csv

import pytest
import torch

from miner.experiments.layer_map_variants import NAMED, grid_points, insertion, insertion_grid, named_maps
from miner.experiments.mapped_models import check_map, mapped, materialised_copy, tied_copy
from small_model import require_assets
from tiny_models import random_ids, tiny_model


def test_named_maps_follow_the_seeds():
    assert insertion(4, 2, 1) == [0, 2, 1, 2, 3]
    assert insertion(4, 0, 4) == [0, 1, 2, 3, 0]
    assert NAMED["inner-x2 (first/last in place)"](4) == [0, 1, 1, 2, 2, 3]  # seed 000 keeps 0 and 3 in place
    assert NAMED["all-x2"](3) == [0, 0, 1, 1, 2, 2]
    assert NAMED["repeat-all"](2) == [0, 1, 0, 1]
    assert NAMED["solar"](32) == list(range(24)) + list(range(8, 32))  # SOLAR 10.7B: 32 -> 48 layers
    assert NAMED["middle-block-x2"](30) == list(range(20)) + list(range(10, 30))
    for n in (3, 4, 30):  # every named map runs every layer, ends on the last one and starts on the first
        for build in NAMED.values():
            layers = build(n)
            assert set(layers) == set(range(n)) and layers[0] == 0 and layers[-1] == n - 1
    assert grid_points(30, 6) == ([0, 6, 12, 18, 24, 29], [0, 6, 12, 18, 24, 30])
    grid = insertion_grid(30, 6)
    assert len(grid) == 36 and all(len(m.layers) == 31 for m in grid)
    extra = named_maps(6, ("identity",), ("0-3,2-5",))
    assert [m.layers for m in extra] == [(0, 1, 2, 3, 4, 5), (0, 1, 2, 3, 2, 3, 4, 5)]


def test_bad_maps_are_refused():
    with pytest.raises(ValueError, match="unknown layer map"):
        named_maps(4, ("no-such-map",))
    with pytest.raises(ValueError, match="fresh layers"):
        named_maps(4, (), ("0-3,_",))
    model = tiny_model("llama")
    with pytest.raises(ValueError, match="never runs stored layer"):
        check_map(model, [0, 1, 1, 3])
    with pytest.raises(ValueError, match="stored layers 0..3"):
        check_map(model, [0, 1, 2, 3, 4])


@torch.no_grad()
def test_tied_map_equals_copies_and_identity_equals_the_model():
    model = tiny_model("llama")
    ids = random_ids(model.config.vocab_size)
    base = model(input_ids=ids).logits
    with mapped(model, [0, 1, 2, 3]):
        assert torch.equal(model(input_ids=ids).logits, base)
    layers = [0, 1, 1, 2, 3, 2, 3]
    with mapped(model, layers):
        assert model.config.num_hidden_layers == 7
        tied = model(input_ids=ids).logits
    assert model.config.layer_map is None and model.config.num_hidden_layers == 4  # restored
    assert not torch.allclose(tied, base)
    copies = materialised_copy(model, layers)
    assert len(copies.model.layers) == 7 and copies.config.layer_map is None
    assert torch.equal(copies(input_ids=ids).logits, tied)
    assert copies.model.layers[1].self_attn.q_proj.weight is not copies.model.layers[2].self_attn.q_proj.weight
    assert len(model.model.layers) == 4  # the source model keeps its layers
    trained_tied = tied_copy(model, layers)
    assert len(trained_tied.model.layers) == 4 and torch.equal(trained_tied(input_ids=ids).logits, tied)
    assert trained_tied.model.layers[0].mlp.up_proj.weight is not model.model.layers[0].mlp.up_proj.weight


@pytest.mark.assets
def test_micro_run_end_to_end(tmp_path, capsys):
    """A tiny random Llama (gpt2 text compacted to 64 ids) through the command: CSV rows for every map, the three
    PNGs, the identity map reproducing the base loss exactly, and the training arms."""
    require_assets()
    import transformers_llama
    from miner.__main__ import main

    config = transformers_llama.LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32,
                                            num_hidden_layers=3, num_attention_heads=2, num_key_value_heads=2,
                                            head_dim=8, max_position_embeddings=64, tie_word_embeddings=True)
    torch.manual_seed(0)
    transformers_llama.LlamaForCausalLM(config).save_pretrained(tmp_path / "model")
    out = tmp_path / "out"
    sets = ["model_dir=" + str(tmp_path / "model"), "tokenizer=gpt2", "vocab=64", "heldout_samples=2",
            "heldout_max_tokens=16", "grid_step=3",
            "variants=[identity,inner-x2 (first/last in place),repeat-all]", "train_steps=2", "batch_size=1",
            "seq_len=8", "lr=0.01", "warmup_steps=1"]
    argv = ["experiment", "layer-maps", "--out", str(out)]
    for pair in sets:
        argv += ["--set", pair]
    assert main(argv) == 0
    assert "identity_exact=True" in capsys.readouterr().out.splitlines()[-1]
    assert {p.name for p in out.iterdir()} >= {"results.csv", "insert-grid.png", "variants.png", "training.png",
                                              "summary.md", "config.yaml"}
    rows = list(csv.DictReader((out / "results.csv").open()))
    named = {r["name"]: r for r in rows if r["kind"] == "named"}
    grid = [r for r in rows if r["kind"] == "grid"]
    trained = [r for r in rows if r["kind"] == "train"]
    assert set(named) == {"identity", "inner-x2 (first/last in place)", "repeat-all"}
    assert float(named["identity"]["delta"]) == 0.0
    assert len(grid) == 4 and {(r["source"], r["position"]) for r in grid} == {("0", "0"), ("0", "3"), ("2", "0"),
                                                                               ("2", "3")}
    assert [r["weights"] for r in trained] == ["none", "copies", "tied"]
    assert trained[1]["positions"] == trained[2]["positions"] and int(trained[1]["parameters"]) > \
        int(trained[2]["parameters"])  # copies store the repeated layers, tied ones do not
    assert all(float(r["loss_after"]) != float(r["loss_before"]) for r in trained)  # the run trained them
