"""Functional lineage check: per-sample held-out loss of the child equals the parent's.

Uses `node.evaluation.sample_losses`, the loss validators score with. With a grown vocabulary the
full loss cannot be equal (each new token's logit 0 takes probability mass), so two numbers are
reported: the loss with the child's head restricted to the parent's vocabulary (must match: it
proves everything else is preserved) and the full loss change (the vocabulary penalty).
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

import torch

from node.evaluation import sample_losses
from node.modeling import load_model_for_eval


@dataclass
class FunctionReport:
    parent_losses: list[float]
    child_losses: list[float]  # on the parent's vocabulary
    child_full_losses: list[float]  # on the child's whole vocabulary (differs only when it grew)
    dtype: str

    @property
    def max_abs_delta(self) -> float:
        return max((abs(c - p) for p, c in zip(self.parent_losses, self.child_losses, strict=True)), default=0.0)

    @property
    def vocab_penalty(self) -> float:
        """Largest per-sample loss increase caused by the new vocabulary rows."""
        deltas = [f - c for f, c in zip(self.child_full_losses, self.child_losses, strict=True)]
        return max(deltas, default=0.0)


def check_function(parent_dir: str | Path, child_dir: str | Path, samples: list[list[int]],
                   dtype: torch.dtype = torch.float32) -> FunctionReport:
    """Load one model at a time (parent, then child) to keep peak memory at the larger of the two."""
    parent = load_model_for_eval(parent_dir, dtype=dtype)
    parent_vocab = parent.config.vocab_size
    parent_losses = sample_losses(parent, samples)
    del parent
    gc.collect()
    child = load_model_for_eval(child_dir, dtype=dtype)
    full = sample_losses(child, samples)
    restricted = full
    if child.config.vocab_size > parent_vocab:
        head = child.lm_head
        child.lm_head = _RowSlice(head, parent_vocab)
        restricted = sample_losses(child, samples)
        child.lm_head = head
    del child
    gc.collect()
    return FunctionReport(parent_losses, restricted, full, str(dtype).removeprefix("torch."))


class _RowSlice(torch.nn.Module):
    """The head with only its first `rows` output rows: the parent's vocabulary (a view, no copy)."""

    def __init__(self, head: torch.nn.Module, rows: int) -> None:
        super().__init__()
        self.weight = head.weight[:rows]
        self.bias = None if head.bias is None else head.bias[:rows]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.linear(hidden, self.weight, self.bias)
