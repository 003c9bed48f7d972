"""Certify that a checkpoint was grown from another without changing what it computes.

`verify_growth` is what `python -m miner verify-growth` runs and what a validator calls to certify
lineage: a structural check (parent weights inside the child, new writers zero, norm divisor
frozen) and a functional check (per-sample held-out loss equal within `tolerance` nats).

Both folders pass the gate first (`read_model_config`), and the functional check runs only when the
structure is sound: a child that already failed is never loaded and run. A validator calls
`verify_growth_isolated`, which runs the whole certification in a spawned process with a time limit,
so a hostile child can neither hang nor crash the daemon.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from node.evaluation.isolated import run_isolated
from node.modeling import read_model_config
from node.refusal import Refused

from .functional import FunctionReport, check_function
from .samples import DEFAULT_MAX_TOKENS, default_samples
from .structure import StructureReport, check_structure

DEFAULT_TOLERANCE = 1e-3  # nats per sample; exact growth measures 0 on the patched models (see README)


@dataclass
class LineageReport:
    structure: StructureReport
    function: FunctionReport | None
    tolerance: float
    samples_from: str = ""
    allow_vocab_penalty: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        lines = [f"structure: {'ok' if self.structure.ok else 'FAILED'}"]
        lines += [f"  - {issue}" for issue in self.structure.issues[:20]]
        if self.structure.ok:
            lines.append(f"  parent positions carried at child positions {self.structure.carried_at}; "
                         f"identity positions {self.structure.identity_positions}")
        if self.function is not None:
            f = self.function
            lines.append(f"function ({f.dtype}, {self.samples_from}): max |dloss| = {f.max_abs_delta:.6g} nats "
                         f"(tolerance {self.tolerance:g})")
            if f.child_full_losses != f.child_losses:
                lines.append(f"  vocabulary penalty: up to +{f.vocab_penalty:.6g} nats per sample with new tokens' "
                             "logits in the softmax")
        lines.append("verdict: " + ("loss-preserving growth" if self.ok else "NOT loss-preserving: "
                                    + "; ".join(self.problems)))
        return "\n".join(lines)


def verify_growth(parent_dir: str | Path, child_dir: str | Path, *, samples: list[list[int]] | None = None,
                  num_samples: int = 8, max_tokens: int = DEFAULT_MAX_TOKENS, tolerance: float = DEFAULT_TOLERANCE,
                  dtype: torch.dtype = torch.float32, allow_vocab_penalty: bool = False,
                  functional: bool = True) -> LineageReport:
    structure = check_structure(parent_dir, child_dir)
    report = LineageReport(structure, None, tolerance, allow_vocab_penalty=allow_vocab_penalty)
    if not structure.ok:
        report.problems.append(f"{len(structure.issues)} structural issue(s)")
        return report  # never load and run a child whose structure already failed
    if functional:
        vocab = read_model_config(parent_dir).vocab_size
        if samples is None:
            samples, report.samples_from = default_samples(parent_dir, vocab, num_samples, max_tokens)
        else:
            report.samples_from = f"{len(samples)} given samples"
        report.function = check_function(parent_dir, child_dir, samples, dtype)
        if not report.function.max_abs_delta <= tolerance:
            report.problems.append(f"loss changed by up to {report.function.max_abs_delta:.6g} nats")
        if report.function.vocab_penalty > tolerance and not allow_vocab_penalty:
            report.problems.append(f"grown vocabulary raises the loss by up to {report.function.vocab_penalty:.6g} "
                                   "nats (accept with allow_vocab_penalty)")
    return report


def _verify_growth_kwargs(parent_dir: str, child_dir: str, kwargs: dict) -> LineageReport:
    return verify_growth(parent_dir, child_dir, **kwargs)


def verify_growth_isolated(parent_dir: str | Path, child_dir: str | Path, *, timeout_s: float = 600.0,
                           **kwargs) -> LineageReport:
    """`verify_growth` in a spawned process killed after `timeout_s`; a refusal inside keeps its kind, a
    timeout or crash raises `Refused` with EVAL_TIMEOUT / EVAL_CRASH."""
    result = run_isolated(_verify_growth_kwargs, (str(parent_dir), str(child_dir), kwargs), timeout_s)
    if result.failure is not None:
        raise Refused(result.kind, f"lineage check: {result.failure}")
    return result.value
