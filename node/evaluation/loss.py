"""Per-sample score: total cross-entropy in nats over tokens 2..n (the reference's definition).

Miner and validator both call `sample_losses`, so a miner can predict its score exactly. Samples are
grouped by length into batches (right padding + attention mask, so padding never changes a score),
and the head is applied to chunks of positions so full-vocabulary fp32 logits for a whole batch
never exist at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def _batches(lengths: Sequence[int], max_batch_tokens: int) -> list[list[int]]:
    """Indices grouped so that (longest length x batch size) stays under `max_batch_tokens`."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        if current and lengths[index] * (len(current) + 1) > max_batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _summed_ce(model, hidden: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor, chunk_rows: int):
    """Sum of CE per row; `hidden` is [rows, seq, h] aligned with `targets` [rows, seq]."""
    totals = torch.zeros(hidden.shape[0], dtype=torch.float64)
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    flat_targets = targets.reshape(-1)
    flat_valid = valid.reshape(-1)
    row_of = torch.arange(hidden.shape[0]).repeat_interleave(hidden.shape[1])
    for begin in range(0, flat_hidden.shape[0], chunk_rows):
        end = begin + chunk_rows
        keep = flat_valid[begin:end]
        if not keep.any():
            continue
        logits = model.lm_head(flat_hidden[begin:end][keep]).float()
        ce = F.cross_entropy(logits, flat_targets[begin:end][keep], reduction="none")
        totals.index_add_(0, row_of[begin:end][keep], ce.double())
    return totals


@torch.no_grad()
def sample_losses(
    model,
    samples: Sequence[Sequence[int]],
    *,
    max_batch_tokens: int = 8192,
    chunk_rows: int = 1024,
) -> list[float]:
    """Summed CE (nats) of tokens 2..n for each sample, in input order; a sample of <2 tokens is inf."""
    device = next(p for p in model.parameters() if p.device.type != "meta").device
    lengths = [len(s) for s in samples]
    losses = [float("inf")] * len(samples)
    for batch in _batches(lengths, max_batch_tokens):
        batch = [i for i in batch if lengths[i] >= 2]
        if not batch:
            continue
        width = max(lengths[i] for i in batch)
        ids = torch.zeros(len(batch), width, dtype=torch.long)
        mask = torch.zeros(len(batch), width, dtype=torch.long)
        for row, index in enumerate(batch):
            ids[row, : lengths[index]] = torch.as_tensor(samples[index], dtype=torch.long)
            mask[row, : lengths[index]] = 1
        ids, mask = ids.to(device), mask.to(device)
        hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
        totals = _summed_ce(model, hidden[:, :-1], ids[:, 1:].cpu(), mask[:, 1:].cpu().bool(), chunk_rows)
        for row, index in enumerate(batch):
            losses[index] = float(totals[row])
    return losses
