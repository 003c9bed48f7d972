"""Growth and training together: a growth schedule inside a run, resume across it, and freezing the old part."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from miner.growth import GrowthPlan, Hidden, Intermediate, grow
from miner.training import TrainConfig, train
from miner.training.data import CorpusBatches, training_tokenizer
from miner.training.growing import new_entries
from node.modeling import load_model_for_eval
from train_support import tiny_setup

PLAN = {"seed": 3, "operators": [{"op": "hidden", "size": 96}, {"op": "intermediate", "size": 192}]}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    model_dir, corpus = tiny_setup(root)
    plan = root / "plan.json"
    plan.write_text(json.dumps(PLAN))
    return model_dir, corpus, plan


def config(setup, out: Path, **changes) -> TrainConfig:
    model_dir, corpus, _ = setup
    base = dict(model=str(model_dir), out_dir=str(out), steps=4, micro_batch_size=2, seq_len=24, grad_accum=2,
                lr=3e-3, warmup_steps=1, corpus_path=str(corpus), eval_every=-1, threads=1)
    return TrainConfig(**{**base, **changes})


def test_growth_schedule_grows_without_changing_the_loss_and_resumes_exactly(setup, tmp_path) -> None:
    per_step = 2 * 24 * 2
    growth = [{"at_tokens": 2 * per_step, "plan": str(setup[2])}]
    whole = train(config(setup, tmp_path / "whole", growth=growth, checkpoint_every=2))
    child = load_model_for_eval(whole.model_dir)
    assert child.config.hidden_size == 96 and child.config.intermediate_size == 192
    assert (tmp_path / "whole" / "growth-0" / "config.json").is_file()
    # the first step on the child starts from the parent's function: its loss is the parent's on that batch
    parent = load_model_for_eval(tmp_path / "whole" / "step-000002" / "model")
    batches = CorpusBatches.build(training_tokenizer(setup[0], None), 320, 0, 2, 24, setup[1])
    with torch.no_grad():
        parent_loss = sum(F.cross_entropy(parent(input_ids=ids[:, :-1]).logits.flatten(0, 1), ids[:, 1:].flatten())
                          .item() for ids in (batches.batch(2, 0), batches.batch(2, 1))) / 2
    assert whole.losses[2] == pytest.approx(parent_loss, rel=1e-5)
    # stop after the growth and one step on the child, resume, finish: bit for bit the same
    first = train(config(setup, tmp_path / "split", growth=growth, checkpoint_every=2, stop_at=3))
    assert json.loads((first.checkpoint / "state.json").read_text())["growths_done"] == 1
    rest = train(config(setup, tmp_path / "split", growth=growth, checkpoint_every=2))
    assert first.losses + rest.losses == whole.losses
    a, b = (load_file(r.model_dir / "model.safetensors") for r in (whole, rest))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_freeze_inherited_trains_only_the_new_entries(setup, tmp_path) -> None:
    parent_dir, _, plan_file = setup
    grown = tmp_path / "grown"
    grow(parent_dir, grown, GrowthPlan([Hidden(96), Intermediate(192)], seed=3))
    (grown / "tokenizer.json").write_bytes((parent_dir / "tokenizer.json").read_bytes())
    result = train(config(setup, tmp_path / "run", model=str(grown), grown_from=str(parent_dir),
                          grown_plan=str(plan_file), freeze_inherited=True, new_lr_scale=2.0, steps=3))
    before = load_model_for_eval(grown).state_dict()
    after = load_file(result.model_dir / "model.safetensors")
    masks = new_entries(parent_dir, GrowthPlan.from_dict(PLAN), list(before))
    moved = 0
    for name, mask in masks.items():
        assert torch.equal(after[name][~mask], before[name][~mask]), name  # inherited: frozen, bit for bit
        moved += int((after[name][mask] != before[name][mask]).sum())
    assert moved > 0.5 * sum(int(m.sum()) for m in masks.values())  # most new entries trained
    assert (result.checkpoint / "new_entries.safetensors").is_file()
