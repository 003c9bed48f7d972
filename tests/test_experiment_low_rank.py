"""The `low-rank` experiment: factor shapes and parameter counts by hand, rank schedules, the model never passing
as something a validator accepts, and a micro run end to end through the command."""

from __future__ import annotations

import csv

import pytest
import torch
from safetensors.torch import save_file

from miner.experiments.lab import ModelShape, matmul_parameters, tiny_llama
from miner.experiments.low_rank import parse_arm
from miner.experiments.low_rank_model import NOT_AN_ARCHITECTURE, LowRankLinear, factorise, layer_ranks, rank_schedule
from node.gate import ModelLimits, check_model_dir
from node.refusal import Refused
from small_model import require_assets

SHAPE = ModelShape(hidden=32, layers=3, heads=2, kv_heads=2, intermediate=64, max_positions=64)
FULL_LAYER = 4 * 32 * 32 + 3 * 32 * 64  # q, k, v, o + gate, up, down


def test_low_rank_linear_is_two_factors():
    layer = LowRankLinear(48, 80, 5, generator=torch.Generator().manual_seed(0))
    assert layer.down.weight.shape == (5, 48) and layer.up.weight.shape == (80, 5)
    assert sum(p.numel() for p in layer.parameters()) == (48 + 80) * 5
    x = torch.randn(3, 48)
    assert torch.allclose(layer(x), x @ (layer.up.weight @ layer.down.weight).T, atol=1e-6)
    wide = LowRankLinear(512, 512, 128, std=0.02, generator=torch.Generator().manual_seed(1))
    product = wide.up.weight @ wide.down.weight
    assert 0.018 < product.std().item() < 0.022  # the full matrix's N(0, 0.02) output scale
    with pytest.raises(ValueError, match="rank must be >= 1"):
        LowRankLinear(4, 4, 0)


def test_rank_schedules_keep_the_mean_rank():
    assert rank_schedule("constant", 8, 4) == [8, 8, 8, 8]
    assert rank_schedule("increasing", 8, 4) == [4, 7, 9, 12]
    assert rank_schedule("decreasing", 8, 4) == [12, 9, 7, 4]
    assert rank_schedule("increasing", 4, 3) == [2, 4, 6]
    assert rank_schedule("decreasing", 5, 1) == [5]
    with pytest.raises(ValueError, match="unknown rank schedule"):
        rank_schedule("random", 8, 4)
    assert parse_arm("full").schedule is None
    assert parse_arm("increasing:16:mlp") == parse_arm("increasing:16:mlp")
    assert (parse_arm("decreasing:4").rank, parse_arm("decreasing:4").part) == (4, "all")
    for bad in ("constant", "constant:0", "steady:8", "constant:8:heads", "constant:x"):
        with pytest.raises(ValueError, match="bad arm"):
            parse_arm(bad)


def test_factorised_parameter_counts_by_hand():
    vocab = 50
    full = tiny_llama(SHAPE, vocab, seed=0)
    head = 32 * vocab
    assert matmul_parameters(full) == 3 * FULL_LAYER + head
    ranks = rank_schedule("increasing", 4, 3)  # [2, 4, 6]
    low = factorise(tiny_llama(SHAPE, vocab, seed=0), ranks, "all")
    expected = sum(4 * (32 + 32) * r + 3 * (32 + 64) * r for r in ranks)
    assert matmul_parameters(low) == expected + head
    assert sum(p.numel() for p in low.parameters()) == sum(p.numel() for p in full.parameters()) \
        - 3 * FULL_LAYER + expected
    mlp_only = factorise(tiny_llama(SHAPE, vocab, seed=0), [4, 4, 4], "mlp")
    assert matmul_parameters(mlp_only) == 3 * (4 * 32 * 32 + 3 * (32 + 64) * 4) + head
    assert layer_ranks(mlp_only)[0] == {"q_proj": 32, "k_proj": 32, "v_proj": 32, "o_proj": 32, "gate_proj": 4,
                                        "up_proj": 4, "down_proj": 4}
    capped = factorise(tiny_llama(SHAPE, vocab, seed=0), [100, 100, 100], "attention")
    assert layer_ranks(capped)[2]["q_proj"] == 32  # never above the matrix's own rank
    ids = torch.randint(0, vocab, (2, 9))
    assert low(input_ids=ids).logits.shape == (2, 9, vocab)


def test_low_rank_model_is_never_saved_nor_accepted(tmp_path):
    model = factorise(tiny_llama(SHAPE, 50, seed=0), [4, 4, 4])
    with pytest.raises(TypeError, match="never saved"):
        model.save_pretrained(tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    # written around the guard, with the config the model carries: the gate refuses its architecture label
    folder = tmp_path / "forced"
    folder.mkdir()
    model.config.to_json_file(folder / "config.json")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    with pytest.raises(Refused, match=NOT_AN_ARCHITECTURE):
        check_model_dir(folder, ModelLimits())
    model.config.architectures = ["LlamaForCausalLM"]  # relabelled as accepted: its factor tensors give it away
    model.config.to_json_file(folder / "config.json")
    with pytest.raises(Refused, match=r"unexpected tensor 'model\.layers\.0\..*\.down\.weight'"):
        check_model_dir(folder, ModelLimits())


@pytest.mark.assets
def test_micro_run_end_to_end(tmp_path, capsys):
    require_assets()
    from miner.__main__ import main

    out = tmp_path / "out"
    sets = ["vocab=64", "heldout_samples=2", "heldout_max_tokens=16", "hidden=16", "intermediate=32", "layers=2",
            "heads=2", "kv_heads=2", "steps=3", "eval_every=2", "batch_size=2", "seq_len=8", "warmup_steps=1",
            "arms=[full,constant:2,decreasing:2:mlp]"]
    argv = ["experiment", "low-rank", "--out", str(out)]
    for pair in sets:
        argv += ["--set", pair]
    assert main(argv) == 0
    assert "best_low_rank=" in capsys.readouterr().out.splitlines()[-1]
    assert {p.name for p in out.iterdir()} == {"results.csv", "loss-vs-params.png", "curves.png", "summary.md",
                                              "config.yaml"}  # no model is written
    rows = {r["arm"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert set(rows) == {"full", "constant:2", "decreasing:2:mlp"}
    full_layer = 4 * 16 * 16 + 3 * 16 * 32
    assert int(rows["full"]["layer_matmul_parameters"]) == 2 * full_layer
    assert int(rows["constant:2"]["layer_matmul_parameters"]) == 2 * (4 * 32 * 2 + 3 * 48 * 2)
    assert rows["decreasing:2:mlp"]["ranks"] == "3/1"
    assert int(rows["decreasing:2:mlp"]["layer_matmul_parameters"]) == 2 * 4 * 16 * 16 + 3 * 48 * (3 + 1)
    assert float(rows["full"]["loss_vs_full"]) == 0.0
    assert all(float(r["final_loss"]) < 5.0 for r in rows.values())  # trained from ~ln(64) = 4.16 + init noise
