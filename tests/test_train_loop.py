"""The training loop on one process: exact resume, checkpoint folders, held-out loss, configs, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from miner.__main__ import main as miner_main
from miner.training import TrainConfig, TrainingRefusalKind, TrainingRefused, train
from miner.training.checkpoint import complete_checkpoints, latest_checkpoint
from node.data import CorpusSource, TokenizerPolicy, load_tokenizer, part_of, tokenize_samples
from node.evaluation import sample_losses
from node.modeling import load_model_for_eval
from train_support import tiny_setup


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    return tiny_setup(tmp_path_factory.mktemp("tiny"))


def config(setup, out: Path, **changes) -> TrainConfig:
    model_dir, corpus = setup
    base = dict(model=str(model_dir), out_dir=str(out), steps=6, micro_batch_size=4, seq_len=24, grad_accum=2,
                lr=3e-3, warmup_steps=2, grad_clip=0.5, corpus_path=str(corpus), eval_every=-1, threads=1)
    return TrainConfig(**{**base, **changes})


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return load_file(checkpoint / "model" / "model.safetensors")


def test_resume_is_bit_identical(setup, tmp_path) -> None:
    """6 steps in one go == 3 steps, stop, resume, 3 more: weights, optimiser state and losses, bit for bit."""
    whole = train(config(setup, tmp_path / "whole"))
    first = train(config(setup, tmp_path / "split", stop_at=3))
    assert first.step == 3 and latest_checkpoint(tmp_path / "split").name == "step-000003"
    rest = train(config(setup, tmp_path / "split"))
    assert rest.step == 6 and len(rest.losses) == 3
    assert first.losses + rest.losses == whole.losses
    a, b = weights(whole.checkpoint), weights(rest.checkpoint)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    opt_a = torch.load(whole.checkpoint / "trainer.pt", weights_only=True)
    opt_b = torch.load(rest.checkpoint / "trainer.pt", weights_only=True)
    for key, state in opt_a["optimizer"]["state"].items():
        for name, value in state.items():
            assert torch.equal(value, opt_b["optimizer"]["state"][key][name]), (key, name)
    assert opt_a["scheduler"]["last_epoch"] == opt_b["scheduler"]["last_epoch"] == 6
    # and the run did train: the weights moved
    start = load_model_for_eval(setup[0]).state_dict()
    assert not torch.equal(start["model.layers.0.mlp.up_proj.weight"], a["model.layers.0.mlp.up_proj.weight"])


def test_checkpoints_are_complete_folders_and_the_last_k_are_kept(setup, tmp_path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / ".step-000002.partial").mkdir()  # a crashed write: ignored, replaced
    (out / "step-000099").mkdir()  # no state.json: not complete, never resumed from
    result = train(config(setup, out, steps=6, checkpoint_every=2, keep_last=2, eval_every=0, eval_samples=8))
    assert [p.name for p in complete_checkpoints(out)] == ["step-000004", "step-000006"]
    assert not (out / ".step-000002.partial").exists()
    state = json.loads((result.checkpoint / "state.json").read_text())
    assert state["step"] == 6 and state["tokens"] == 6 * 4 * 24 * 2
    # the model folder is what a validator loads, and the reported held-out loss is its number
    model = load_model_for_eval(result.model_dir)
    tok = load_tokenizer(result.model_dir / "tokenizer.json")
    samples = CorpusSource(setup[1], part="heldout").samples(1, 8)
    ids = tokenize_samples(samples, tok, TokenizerPolicy(), vocab_size=model.config.vocab_size).id_lists()
    losses = sample_losses(model, ids)
    assert result.heldout[-1][0] == 6
    assert result.heldout[-1][1] == pytest.approx(sum(losses) / sum(len(i) - 1 for i in ids), rel=1e-12)
    before = sample_losses(load_model_for_eval(setup[0]), ids)
    assert sum(losses) < sum(before)  # training on the training part lowers the held-out loss
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4, 5, 6] and "heldout_loss" in lines[-1]
    assert all(r["tokens_per_s"] > 0 and r["lr"] > 0 for r in lines)


def test_training_stream_holds_no_heldout_text(setup, tmp_path) -> None:
    from miner.training.data import CorpusBatches, training_tokenizer

    _, corpus = setup
    docs = [json.loads(line) for line in corpus.read_text().splitlines()]
    for doc in docs:
        if part_of(doc["id"]) == "heldout":
            doc["text"] += "\n\nzebra quartz"
    marked = tmp_path / "marked.jsonl"
    marked.write_text("".join(json.dumps(d) + "\n" for d in docs))
    tok = training_tokenizer(setup[0], None)
    batches = CorpusBatches.build(tok, 320, seed=5, batch_size=2, seq_len=16, corpus_path=marked)
    assert "zebra" not in tok.tokenizer.decode(batches.tokens.tolist())
    assert "zebra" in "".join(s.text for s in CorpusSource(marked, part="heldout").all_samples())
    again = CorpusBatches.build(tok, 320, seed=5, batch_size=2, seq_len=16, corpus_path=marked)
    assert torch.equal(batches.batch(7, 1), again.batch(7, 1))  # a pure function of (seed, step, index)
    assert not torch.equal(batches.batch(7, 1), batches.batch(7, 0))
    assert batches.batch(7, 1).shape == (2, 17)
    with pytest.raises(TrainingRefused) as info:  # ids beyond a smaller model's vocabulary
        CorpusBatches.build(tok, 100, seed=5, batch_size=2, seq_len=16, corpus_path=marked)
    assert info.value.kind is TrainingRefusalKind.TOKENIZER


def test_config_is_strict() -> None:
    with pytest.raises(ValueError, match="unknown training key"):
        TrainConfig.from_dict({"model": "m", "out_dir": "o", "lerning_rate": 1e-3})
    with pytest.raises(ValueError, match="grad_accum"):
        TrainConfig(model="m", out_dir="o", grad_accum=0)
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(model="m", out_dir="o", schedule="linear")
    with pytest.raises(ValueError, match="grown_from"):
        TrainConfig(model="m", out_dir="o", freeze_inherited=True)
    with pytest.raises(ValueError, match="increasing"):
        TrainConfig.from_dict({"model": "m", "out_dir": "o", "growth": [{"at_tokens": 9, "plan": "a"},
                                                                         {"at_tokens": 3, "plan": "b"}]})
    cfg = TrainConfig.from_dict({"model": "m", "out_dir": "o", "betas": [0.9, 0.99],
                                 "growth": [{"at_tokens": 5, "plan": "p.yaml"}]})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_schedules() -> None:
    from miner.training.optim import Schedule

    cosine = Schedule(total=100, warmup=10, kind="cosine", min_ratio=0.1, decay_fraction=0.2)
    assert cosine(0) == pytest.approx(0.1) and cosine(9) == pytest.approx(1.0)
    assert cosine(55) == pytest.approx(0.55) and cosine(100) == pytest.approx(0.1)
    wsd = Schedule(total=100, warmup=10, kind="wsd", min_ratio=0.0, decay_fraction=0.2)
    assert wsd(50) == wsd(80) == 1.0 and wsd(90) == pytest.approx(0.5) and wsd(100) == 0.0
    regrow = Schedule(total=100, warmup=10, kind="wsd", min_ratio=0.0, decay_fraction=0.2, phase_start=40)
    assert regrow(0) == pytest.approx(0.1) and regrow(9) == 1.0  # warm-up again after a growth step


def test_resume_with_other_data_settings_is_refused(setup, tmp_path) -> None:
    train(config(setup, tmp_path / "run", steps=1))
    with pytest.raises(TrainingRefused) as info:
        train(config(setup, tmp_path / "run", steps=2, seq_len=16))
    assert info.value.kind is TrainingRefusalKind.RESUME_MISMATCH and "seq_len" in str(info.value)


def test_cli(setup, tmp_path, capsys) -> None:
    model_dir, corpus = setup
    cfg = tmp_path / "train.yaml"
    cfg.write_text(f"model: {model_dir}\nout_dir: {tmp_path / 'out'}\ncorpus_path: {corpus}\nseq_len: 16\n"
                   "micro_batch_size: 2\neval_every: -1\n")
    assert miner_main(["train", "--config", str(cfg), "--steps", "2", "--set", "warmup_steps=1",
                       "--no-progress"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["step"] == 2 and summary["tokens"] == 2 * 2 * 16
    assert miner_main(["train", "--config", str(cfg), "--set", "bogus=1"]) == 2
    assert "unknown training key" in capsys.readouterr().err


def test_gradient_checkpointing_changes_nothing_and_bf16_autocast_runs(setup, tmp_path) -> None:
    plain = train(config(setup, tmp_path / "plain", steps=2))
    recomputed = train(config(setup, tmp_path / "ckpt", steps=2, gradient_checkpointing=True))
    assert recomputed.losses == plain.losses  # recomputing the forward in backward is exact
    a, b = weights(plain.checkpoint), weights(recomputed.checkpoint)
    assert all(torch.equal(a[k], b[k]) for k in a)
    bf16 = train(config(setup, tmp_path / "bf16", steps=2, dtype="bfloat16"))
    assert bf16.losses[0] == pytest.approx(plain.losses[0], rel=2e-2) and bf16.losses[0] != plain.losses[0]
    assert weights(bf16.checkpoint)["lm_head.weight"].dtype == torch.float32  # fp32 master weights


def test_fineweb_batches_pack_rows_picked_by_step(setup) -> None:
    from miner.training.data import FineWebBatches, training_tokenizer
    from node.data import Sample

    class Rows:  # the FineWebSource interface: samples(seed, count), deterministic in the seed
        name = "fineweb:stand-in"

        def samples(self, seed: int, count: int) -> list[Sample]:
            return [Sample(f"c:train:{seed % 1000}-{i}", f"row {seed % 97} number {i} " * 3, self.name)
                    for i in range(count)]

    tok = training_tokenizer(setup[0], None)
    batches = FineWebBatches(Rows(), tok, 320, seed=1, batch_size=3, seq_len=40)
    first = batches.batch(0, 0)
    assert first.shape == (3, 41) and torch.equal(first, batches.batch(0, 0))
    assert not torch.equal(first, batches.batch(1, 0)) and not torch.equal(first, batches.batch(0, 1))
    assert int(first.max()) < 320
