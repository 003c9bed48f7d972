"""stack-vs-scratch: the FLOP accounting by hand, the analysis on known curves, the micro configuration end to
end through the command line (CSV, PNGs, summary, README section), and config errors (exit 2)."""

from __future__ import annotations

import csv

import pytest

from miner.__main__ import main
from miner.experiments.lab import Curve, ModelShape, matmul_parameters, tiny_llama
from miner.experiments.settings import config_from_mapping
from miner.experiments.stack_vs_scratch import StackVsScratchConfig, budget_plan, shape_matmul_parameters
from miner.experiments.stack_vs_scratch.analysis import NO_DIFFERENCE, loss_at_tokens, saving, verdict
from miner.experiments.stack_vs_scratch.arms import depth_operator, slice_notation

# hidden 64, intermediate 256, 4 heads of 16: q, k, v, o 64x64 = 4096 each, gate/up/down 64x256 = 16384 each
PER_LAYER = 4 * 64 * 64 + 3 * 64 * 256  # 65536
HEAD = 64 * 1024  # untied lm_head over the compacted vocabulary of 1024


def test_matmul_parameters_by_hand():
    assert shape_matmul_parameters(64, 256, 4, 4, 2, 1024) == 2 * PER_LAYER + HEAD == 196608
    assert shape_matmul_parameters(64, 256, 4, 4, 8, 1024) == 8 * PER_LAYER + HEAD == 589824
    # grouped KV heads: k and v shrink to 64 x (2 x 16)
    assert shape_matmul_parameters(64, 256, 4, 2, 1, 1024) == 2 * 4096 + 2 * 64 * 32 + 3 * 16384 + HEAD
    for layers, kv in ((2, 4), (8, 4), (1, 2)):  # the formula counts what lab counts on the real module
        model = tiny_llama(ModelShape(64, layers, 4, kv, 256), 1024, seed=0)
        assert matmul_parameters(model) == shape_matmul_parameters(64, 256, 4, kv, layers, 1024)


def test_budget_counts_the_small_phase_and_is_equal_between_arms():
    config = StackVsScratchConfig()  # the defaults: 32 small steps, a budget of 80 target steps, 8 x 64 tokens
    tokens = 8 * 64
    x4 = budget_plan(config, 4)
    assert (x4.small_params, x4.target_params) == (196608, 589824)
    assert x4.grown_steps == round(80 - 32 * 196608 / 589824) == 69  # the small phase cost 32/3 target steps
    assert x4.small_flops == 6 * 196608 * tokens * 32
    assert x4.stacked_flops == 6 * tokens * (32 * 196608 + 69 * 589824)
    assert x4.budget_flops == 6 * 589824 * tokens * 80
    assert abs(x4.stacked_flops - x4.budget_flops) <= 0.5 * 6 * 589824 * tokens  # within half a target step
    assert x4.stacked_tokens == tokens * (32 + 69) and x4.budget_tokens == tokens * 80
    assert x4.scratch_steps == 120
    x2 = budget_plan(config, 2)
    assert x2.grown_steps == round(80 - 32 * 196608 / (4 * PER_LAYER + HEAD)) == 61
    assert abs(x2.stacked_flops - x2.budget_flops) <= 0.5 * 6 * (4 * PER_LAYER + HEAD) * tokens


def test_saving_and_verdict_on_known_curves():
    scratch = Curve([0, 100, 200, 300], [0.0, 1.0, 2.0, 3.0], [5.0, 4.0, 3.0, 2.5])
    assert loss_at_tokens(scratch, 150) == pytest.approx(3.5)
    plan = budget_plan(config_from_mapping(StackVsScratchConfig, {"batch_size": 1, "seq_len": 1,
                                                                  "budget_steps": 160, "small_steps": 32}), 2)
    s = saving(scratch, 2.75, plan)  # scratch reaches 2.75 halfway between 200 and 300 tokens
    assert s.reach_tokens == pytest.approx(250)
    assert s.saving_pct == pytest.approx(100 * (1 - 160 / 250))
    assert s.speedup_pct == pytest.approx(100 * (250 / 160 - 1))
    assert saving(scratch, 4.5, plan).saving_pct < 0  # scratch got there before the budget: stacking cost more
    never = saving(scratch, 1.0, plan)
    assert never.saving_pct is None and never.describe() == f">{100 * (1 - 160 / 300):.1f}"
    assert verdict(0.05, 0.09, 3) == NO_DIFFERENCE
    assert verdict(0.12, 0.09, 3) == "stacking better" and verdict(-0.12, 0.09, 3) == "scratch better"


def test_depth_operators_and_notation():
    assert slice_notation("0,1*3", 2) == "L[0:2] L[1:2]x2"
    assert slice_notation("0*2,1*2", 2) == "L[0:1]x2 L[1:2]x2"
    assert slice_notation("0,_,1,_", 2) == "L[0:1] I L[1:2] I"
    assert depth_operator("stack", 4, 2, "").copy_writers  # G_stack as published keeps the copies' writers
    assert not depth_operator("stack_exact", 4, 2, "").copy_writers
    assert depth_operator("identity", 4, 2, "").total == 8


MICRO = ["seeds=[0,1]", "factors=[2]", "small_steps=4", "budget_steps=8", "eval_every=4", "scratch_horizon=1.5",
         "operators=[stack_exact,identity]", "heldout_samples=2",
         "heldout_max_tokens=32", "vocab=128", "hidden=32", "intermediate=64", "seq_len=16", "batch_size=2",
         "warmup_steps=2"]


@pytest.mark.assets
def test_micro_configuration_end_to_end(tmp_path, capsys, monkeypatch):
    import miner.experiments.results as results

    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- experiment:stack-vs-scratch -->\nold\n<!-- /experiment:stack-vs-scratch -->\n")
    monkeypatch.setattr(results, "README", readme)
    monkeypatch.setattr(results, "README_PLOTS", tmp_path / "plots")
    out = tmp_path / "run"
    argv = ["experiment", "stack-vs-scratch", "--out", str(out), "--threads", "1", "--update-readme"]
    assert main(argv + [a for s in MICRO for a in ("--set", s)]) == 0
    headline = capsys.readouterr().out.strip().splitlines()[-1]
    assert headline.startswith("saving_pct_x2=") and "verdict_x2=" in headline and "best_operator=" in headline
    for name in ("results.csv", "curves.png", "operators.png", "summary.md", "config.yaml"):
        assert (out / name).stat().st_size > 0
    rows = list(csv.DictReader((out / "results.csv").open()))
    arms = {r["arm"] for r in rows}
    assert arms == {"stack_x2", "scratch_x2", "stack_exact_x2", "identity_x2"}
    plan = budget_plan(config_from_mapping(StackVsScratchConfig, {k: v for k, v in (
        ("seeds", [0, 1]), ("factors", [2]), ("small_steps", 4), ("budget_steps", 8), ("eval_every", 4),
        ("vocab", 128), ("hidden", 32), ("intermediate", 64), ("seq_len", 16), ("batch_size", 2),
        ("warmup_steps", 2), ("operators", []))}), 2)
    for seed in ("0", "1"):
        stacked = [r for r in rows if r["arm"] == "stack_x2" and r["seed"] == seed]
        small = [r for r in stacked if r["phase"] == "small"]
        grown = [r for r in stacked if r["phase"] == "grown"]
        # the grown phase starts where the small phase ended: its FLOPs and tokens are counted
        assert float(grown[0]["flops"]) == float(small[-1]["flops"]) == plan.small_flops
        assert int(grown[0]["tokens"]) == plan.small_steps * plan.tokens_per_step
        assert float(grown[-1]["flops"]) == plan.stacked_flops
        scratch = [r for r in rows if r["arm"] == "scratch_x2" and r["seed"] == seed]
        at_budget = [r for r in scratch if int(r["tokens"]) == plan.budget_tokens]
        assert float(at_budget[0]["flops"]) == plan.budget_flops
        assert int(scratch[-1]["tokens"]) == plan.scratch_steps * plan.tokens_per_step
        # function-preserving operators: the grown model starts at the small model's loss
        for arm in ("stack_exact_x2", "identity_x2"):
            op = [r for r in rows if r["arm"] == arm and r["seed"] == seed and r["phase"] == "grown"]
            assert float(op[0]["loss"]) == pytest.approx(float(small[-1]["loss"]), abs=1e-5)
    summary = (out / "summary.md").read_text()
    assert "saving %" in summary and "L[0:1] I L[1:2] I" in summary
    section = readme.read_text()
    assert "old" not in section and "curves.png" in section and headline in section
    assert (tmp_path / "plots" / "stack-vs-scratch-curves.png").exists()


@pytest.mark.parametrize("sets, message", [
    (["bogus=1"], "unknown StackVsScratchConfig setting"),
    (["seeds=zero"], "must be an integer"),
    (["small_steps=400"], "nothing is left to train the grown model"),
    (["eval_every=7"], "must divide budget_steps"),
    (["partial_spec='0,1'"], "needs 4"),
    (["operators=[stack,bogus]"], "unknown depth operator"),
    (["factors=[1]"], "growth factors >= 2"),
])
def test_config_errors_exit_2(sets, message, capsys):
    assert main(["experiment", "stack-vs-scratch"] + [a for s in sets for a in ("--set", s)]) == 2
    assert message in capsys.readouterr().err
