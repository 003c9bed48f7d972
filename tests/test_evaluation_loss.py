"""The loss routine against an independent straightforward computation, and sliced == full."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from node.evaluation import LossLayout, even_slices, sample_losses, sliced_sample_losses
from node.evaluation.loss import head_cross_entropy
from tiny_models import tiny_model


def samples(vocab: int, lengths=(5, 17, 1, 40, 9, 33, 2)) -> list[list[int]]:
    generator = torch.Generator().manual_seed(3)
    return [torch.randint(3, vocab, (n,), generator=generator).tolist() for n in lengths]


def straightforward(model, sample: list[int]) -> float:
    """One sample at a time, full fp32 logits, summed CE of tokens 2..n."""
    if len(sample) < 2:
        return math.inf
    with torch.no_grad():
        logits = model(torch.tensor([sample])).logits[0, :-1].float()
    return F.cross_entropy(logits, torch.tensor(sample[1:]), reduction="sum").item()


@pytest.mark.parametrize("family", ["llama", "phi3"])
@pytest.mark.parametrize(("max_batch_tokens", "vocab_chunk", "workers"), [(40, None, 1), (4096, 13, 1), (40, 32, 3)])
def test_batched_losses_equal_one_by_one(family, max_batch_tokens, vocab_chunk, workers):
    model = tiny_model(family)
    data = samples(model.config.vocab_size)
    layout = LossLayout(max_batch_tokens=max_batch_tokens, chunk_rows=7, vocab_chunk=vocab_chunk, workers=workers)
    batched = sample_losses(model, data, layout)
    for got, sample in zip(batched, data, strict=True):
        assert got == pytest.approx(straightforward(model, sample), rel=1e-5)
    assert math.isinf(batched[2])


@pytest.mark.parametrize("num_slices", [2, 3, 4])
def test_sliced_losses_bit_identical_to_full(tmp_path, num_slices):
    model = tiny_model("llama", tie_word_embeddings=True, norm_divisor=50)
    model.save_pretrained(tmp_path)
    data = samples(model.config.vocab_size)
    layout = LossLayout(max_batch_tokens=80, workers=2)
    assert sliced_sample_losses(tmp_path, data, num_slices, layout=layout) == sample_losses(model, data, layout)


def test_even_slices_cover_all_positions():
    assert even_slices(30, 4) == [(0, 8), (8, 15), (15, 22), (22, 30)]
    assert even_slices(3, 8) == [(0, 1), (1, 2), (2, 3)]


@pytest.mark.parametrize("vocab_chunk", [None, 1, 7, 32, 95, 96, 500])
def test_head_cross_entropy_matches_full_logits(vocab_chunk):
    generator = torch.Generator().manual_seed(5)
    head = torch.nn.Linear(24, 96, bias=True)
    rows = torch.randn(40, 24, generator=generator)
    targets = torch.cat([torch.tensor([0, 95, 31, 32, 33]), torch.randint(0, 96, (35,), generator=generator)])
    expected = F.cross_entropy(head(rows), targets, reduction="none")
    with torch.no_grad():
        got = head_cross_entropy(head, rows, targets, vocab_chunk)
    torch.testing.assert_close(got, expected, rtol=1e-6, atol=1e-6)


def test_workers_give_the_same_losses_as_one_stream():
    model = tiny_model("phi3")
    data = samples(model.config.vocab_size, lengths=(5, 17, 40, 9, 33, 2, 28, 11, 3, 19))
    one = sample_losses(model, data, LossLayout(max_batch_tokens=40, workers=1))
    assert sample_losses(model, data, LossLayout(max_batch_tokens=40, workers=4)) == one


def test_cpu_layout_uses_a_worker_per_intra_op_thread():
    assert LossLayout.for_device("cpu").workers == torch.get_num_threads()
    assert LossLayout.for_device("cuda:0").workers == 1
    assert LossLayout.for_device("cuda:0").vocab_chunk is None
