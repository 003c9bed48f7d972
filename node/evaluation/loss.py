"""Per-sample score: total cross-entropy in nats over tokens 2..n (the reference's definition).

Miner and validator both call these functions, so a miner can predict its score exactly. Samples are
grouped by length into batches with right padding. No attention mask is passed: under a causal mask a
real token only attends to earlier positions, which are never padding, so the result is the same and
sdpa keeps its fast `is_causal` kernel (an explicit padding mask forces the slower masked path).
Padded positions compute garbage that is never scored. The head is applied to chunks of positions,
so full-vocabulary fp32 logits for a whole batch never exist at once. The batching is a pure function
of the sample lengths, so the full and the sliced path run exactly the same batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Batch:
    """Sample indices of one batch, right-padded ids, and `mask` marking real (scored) tokens."""

    indices: list[int]
    ids: torch.Tensor
    mask: torch.Tensor


def make_batches(samples: Sequence[Sequence[int]], max_batch_tokens: int) -> list[Batch]:
    """Group samples of >= 2 tokens so that (longest length x batch size) stays under `max_batch_tokens`."""
    lengths = [len(s) for s in samples]
    order = sorted((i for i in range(len(samples)) if lengths[i] >= 2), key=lambda i: (lengths[i], i))
    groups: list[list[int]] = []
    for index in order:
        if groups and lengths[index] * (len(groups[-1]) + 1) <= max_batch_tokens:
            groups[-1].append(index)
        else:
            groups.append([index])
    batches = []
    for group in groups:
        width = max(lengths[i] for i in group)
        ids = torch.zeros(len(group), width, dtype=torch.long)
        mask = torch.zeros(len(group), width, dtype=torch.long)
        for row, index in enumerate(group):
            ids[row, : lengths[index]] = torch.as_tensor(samples[index], dtype=torch.long)
            mask[row, : lengths[index]] = 1
        batches.append(Batch(group, ids, mask))
    return batches


def model_device(model) -> torch.device:
    return next(p for p in model.parameters() if p.device.type != "meta").device


def summed_ce(model, hidden: torch.Tensor, batch: Batch, chunk_rows: int) -> torch.Tensor:
    """Summed CE per row from final hidden states [rows, seq, h]; the head runs on chunks of positions."""
    targets = batch.ids[:, 1:].reshape(-1)
    valid = batch.mask[:, 1:].bool().reshape(-1)
    flat_hidden = hidden[:, :-1].reshape(-1, hidden.shape[-1])
    row_of = torch.arange(hidden.shape[0]).repeat_interleave(hidden.shape[1] - 1)
    totals = torch.zeros(hidden.shape[0], dtype=torch.float64)
    for begin in range(0, flat_hidden.shape[0], chunk_rows):
        keep = valid[begin : begin + chunk_rows]
        if not keep.any():
            continue
        rows = flat_hidden[begin : begin + chunk_rows][keep.to(flat_hidden.device)]
        logits = model.lm_head(rows).float()
        ce = F.cross_entropy(logits, targets[begin : begin + chunk_rows][keep].to(logits.device), reduction="none")
        totals.index_add_(0, row_of[begin : begin + chunk_rows][keep], ce.double().cpu())
    return totals


def scatter(losses: list[float], batch: Batch, totals: torch.Tensor) -> None:
    for row, index in enumerate(batch.indices):
        losses[index] = float(totals[row])


@torch.no_grad()
def sample_losses(
    model,
    samples: Sequence[Sequence[int]],
    *,
    max_batch_tokens: int = 2048,
    chunk_rows: int = 512,
) -> list[float]:
    """Summed CE (nats) of tokens 2..n for each sample, in input order; a sample of <2 tokens is inf."""
    device = model_device(model)
    losses = [float("inf")] * len(samples)
    for batch in make_batches(samples, max_batch_tokens):
        hidden = model.model(input_ids=batch.ids.to(device)).last_hidden_state
        scatter(losses, batch, summed_ce(model, hidden, batch, chunk_rows))
    return losses
