"""The loss routine against an independent straightforward computation, and sliced == full."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from node.evaluation import even_slices, sample_losses, sliced_sample_losses
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
@pytest.mark.parametrize("max_batch_tokens", [40, 4096])
def test_batched_losses_equal_one_by_one(family, max_batch_tokens):
    model = tiny_model(family)
    data = samples(model.config.vocab_size)
    batched = sample_losses(model, data, max_batch_tokens=max_batch_tokens, chunk_rows=7)
    for got, sample in zip(batched, data, strict=True):
        assert got == pytest.approx(straightforward(model, sample), rel=1e-5)
    assert math.isinf(batched[2])


@pytest.mark.parametrize("num_slices", [2, 3, 4])
def test_sliced_losses_bit_identical_to_full(tmp_path, num_slices):
    model = tiny_model("llama", tie_word_embeddings=True, norm_divisor=50)
    model.save_pretrained(tmp_path)
    data = samples(model.config.vocab_size)
    assert sliced_sample_losses(tmp_path, data, num_slices, max_batch_tokens=80) == sample_losses(
        model, data, max_batch_tokens=80
    )


def test_even_slices_cover_all_positions():
    assert even_slices(30, 4) == [(0, 8), (8, 15), (15, 22), (22, 30)]
    assert even_slices(3, 8) == [(0, 1), (1, 2), (2, 3)]
