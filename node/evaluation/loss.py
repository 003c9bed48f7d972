"""Per-sample score: total cross-entropy in nats over tokens 2..n (the reference's definition).

Miner and validator both call these functions, so a miner can predict its score exactly.

How the work is cut, and why each cut leaves the numbers alone:
- Samples are grouped by length into batches with right padding and no attention mask. Under a
  causal mask a real token only attends to earlier positions, which are never padding, so the result
  is the same and sdpa keeps its fast `is_causal` kernel. Padded positions compute garbage that is
  never scored.
- The last token of a sample is only ever a target, so the batch is fed without its last column.
- The head runs on blocks of (positions x vocabulary slice) and the log-sum-exp is accumulated over
  the slices, so a block of logits stays in cache and full-vocabulary logits never exist.
- On a multi-core CPU, batches run in parallel on one-thread workers (see `workers.py`).
The batching is a pure function of the sample lengths, so the full and the sliced path run exactly
the same batches and give bit-identical losses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from node.refusal import RefusalKind, Refused

from .workers import run_parallel


@dataclass(frozen=True)
class LossLayout:
    """How evaluation work is cut into pieces; the defaults suit a CPU (see `for_device`)."""

    max_batch_tokens: int = 512  # longest sample x rows per batch
    chunk_rows: int = 512  # positions per head block
    vocab_chunk: int | None = 2048  # vocabulary entries per head block; None: the whole vocabulary
    workers: int = 1  # batches run concurrently, each on one intra-op thread (CPU only)

    @classmethod
    def for_device(cls, device: str | torch.device) -> LossLayout:
        """CPU: a worker per core on small batches (a few hundred rows already run the GEMMs at peak on
        one core, and small activations stay in that core's cache) and cache-sized head blocks.
        CUDA: big batches and whole-vocabulary head blocks, one stream."""
        if torch.device(device).type == "cuda":
            return cls(max_batch_tokens=32768, chunk_rows=4096, vocab_chunk=None, workers=1)
        return cls(workers=max(1, torch.get_num_threads()))


@dataclass(frozen=True)
class Batch:
    """Sample indices of one batch, right-padded ids, and `mask` marking real (scored) tokens."""

    indices: list[int]
    ids: torch.Tensor
    mask: torch.Tensor

    @property
    def inputs(self) -> torch.Tensor:
        """The ids the model reads: every position that predicts a scored token (not the last column)."""
        return self.ids[:, :-1]


def batch_cost(batch: Batch) -> int:
    return batch.ids.numel()


def check_token_ids(samples: Sequence[Sequence[int]], vocab_size: int) -> None:
    """Refuse (VOCAB) ids outside the embedding's rows before any batch is built: the embedding lookup
    would raise a bare IndexError (CPU) or a device-side assert (CUDA) in the middle of a round."""
    for number, sample in enumerate(samples):
        if not sample:
            continue
        low, high = min(sample), max(sample)
        if low < 0 or high >= vocab_size:
            worst = low if low < 0 else high
            raise Refused(RefusalKind.VOCAB, f"sample {number} holds token id {worst}; the model's vocabulary is "
                          f"[0, {vocab_size})")


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


def head_cross_entropy(head: torch.nn.Linear, rows: torch.Tensor, targets: torch.Tensor,
                       vocab_chunk: int | None) -> torch.Tensor:
    """Per-row CE = logsumexp(logits) - logit[target], with logits made one vocabulary slice at a time.

    Every logit, the target's included, comes from the same GEMM, in the head's dtype, then fp32."""
    vocab = head.weight.shape[0]
    step = vocab if vocab_chunk is None else vocab_chunk
    total = None
    picked = torch.empty(rows.shape[0], dtype=torch.float32, device=rows.device)
    for begin in range(0, vocab, step):
        weight = head.weight[begin : begin + step]
        bias = None if head.bias is None else head.bias[begin : begin + step]
        logits = F.linear(rows, weight, bias).float()
        part = torch.logsumexp(logits, dim=-1)
        total = part if total is None else torch.logaddexp(total, part)
        inside = (targets >= begin) & (targets < begin + weight.shape[0])
        if inside.any():
            where = inside.nonzero().squeeze(1)
            picked[where] = logits[where, targets[where] - begin]
    return total - picked


def summed_ce(model, hidden: torch.Tensor, batch: Batch, layout: LossLayout) -> torch.Tensor:
    """Summed CE per row from final hidden states [rows, positions, h] of `batch.inputs`."""
    targets = batch.ids[:, 1:].reshape(-1)
    valid = batch.mask[:, 1:].bool().reshape(-1)
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    row_of = torch.arange(hidden.shape[0]).repeat_interleave(hidden.shape[1])
    totals = torch.zeros(hidden.shape[0], dtype=torch.float64)
    for begin in range(0, flat_hidden.shape[0], layout.chunk_rows):
        keep = valid[begin : begin + layout.chunk_rows]
        if not keep.any():
            continue
        rows = flat_hidden[begin : begin + layout.chunk_rows][keep.to(flat_hidden.device)]
        chunk_targets = targets[begin : begin + layout.chunk_rows][keep].to(rows.device)
        ce = head_cross_entropy(model.lm_head, rows, chunk_targets, layout.vocab_chunk)
        totals.index_add_(0, row_of[begin : begin + layout.chunk_rows][keep], ce.double().cpu())
    return totals


def scatter(losses: list[float], batch: Batch, totals: torch.Tensor) -> None:
    for row, index in enumerate(batch.indices):
        losses[index] = float(totals[row])


@torch.no_grad()
def sample_losses(model, samples: Sequence[Sequence[int]], layout: LossLayout | None = None) -> list[float]:
    """Summed CE (nats) of tokens 2..n for each sample, in input order; a sample of <2 tokens is inf."""
    device = model_device(model)
    layout = layout or LossLayout.for_device(device)
    check_token_ids(samples, model.config.vocab_size)
    losses = [float("inf")] * len(samples)
    batches = make_batches(samples, layout.max_batch_tokens)

    def score(batch: Batch) -> None:
        hidden = model.model(input_ids=batch.inputs.to(device)).last_hidden_state
        scatter(losses, batch, summed_ce(model, hidden, batch, layout))

    run_parallel(score, batches, layout.workers, cost=batch_cost)
    return losses
