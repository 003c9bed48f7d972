"""Does the candidate beat the current best? Both evaluated like a validator does, compared with its rule.

Evaluation: the same held-out samples for both models (picked from the chain's current block hash, as a
validator round picks them), each model scored in an isolated worker process by
`node.evaluation.model_job.evaluate_model`, the validator's own job (competition tokenizer policy, vocab
check, finiteness scan, per-sample summed cross-entropy in nats), in the competition's evaluation dtype for
`--device`.

The rule, precisely: the best model is the incumbent with commit block `b`; the candidate counts as
committed now (block `n`, the current block: it would be the newer model). With
`margin = advantage_initial * advantage_decay ** ((n - b) / 361)` (`node.scoring.advantage_factor` is
`1 - margin`), the candidate wins a sample only if `loss_new < loss_best * (1 - margin)`; a failed sample
never wins. With `group_samples > 1` the losses are first summed over the same seeded groups a validator
uses. `win_rate` = samples (or groups) won / samples (or groups), computed by `node.scoring.win_rates`, the
validator's function. Publishing is allowed only if `win_rate > 0.5`: the candidate must beat the best by
more than the advantage margin on a majority of the samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from node import scoring
from node.competitions import Competition
from node.data import Sample, derive_seed
from node.evaluation import EvalSettings
from node.evaluation.model_job import JobResult, evaluate_model
from node.refusal import RefusalKind, Refused
from node.worker import IsolatedWorker

REQUIRED_WIN_RATE = 0.5


@dataclass(frozen=True)
class Comparison:
    """The outcome of candidate vs best on one set of samples (all the numbers the CLI prints)."""

    samples: int
    block: int  # the block whose hash chose the samples (also the candidate's assumed commit block)
    best_pointer: str | None  # None: no best model to beat
    best_commit_block: int | None
    candidate_loss_per_token: float | None
    best_loss_per_token: float | None
    margin: float  # the advantage the best keeps: loss_new must be < loss_best * (1 - margin)
    win_rate: float  # the candidate's share of samples (groups) won
    wins: bool

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.best_pointer is None:
            return "no best model in the competition yet: nothing to beat"

        def fmt(x: float | None) -> str:
            return "n/a" if x is None else f"{x:.4f}"

        return (f"candidate {fmt(self.candidate_loss_per_token)} vs best {fmt(self.best_loss_per_token)} nats/token "
                f"on {self.samples} samples; margin {self.margin:.4%}; candidate win rate {self.win_rate:.3f} "
                f"({'>' if self.wins else '<='} {REQUIRED_WIN_RATE} required)")


def loss_per_token(losses: Sequence[float], tokens: Sequence[int]) -> float | None:
    pairs = [(x, t) for x, t in zip(losses, tokens, strict=True) if math.isfinite(x) and t > 0]
    total = sum(t for _, t in pairs)
    return sum(x for x, _ in pairs) / total if total else None


def evaluate(worker: IsolatedWorker, model_dir: str, samples: Sequence[Sample], competition: Competition,
             settings: EvalSettings, timeout_s: float) -> JobResult:
    """The validator's job on one model; raises `Refused` (with the validator's kind) when it fails."""
    result = worker.call(evaluate_model, model_dir, [(s.id, s.text) for s in samples], competition.tokenizer_policy(),
                         settings, True, timeout_s=timeout_s)
    if not result.ok:
        raise Refused(result.kind, result.message)
    job: JobResult = result.value
    nans = sum(math.isnan(x) for x in job.losses)
    if nans:
        raise Refused(RefusalKind.NAN_LOSS, f"NaN loss on {nans} of {len(job.losses)} samples")
    return job


def decide(candidate: JobResult, best: JobResult | None, *, competition: Competition, block: int, seed: int,
           best_pointer: str | None = None, best_commit_block: int | None = None) -> Comparison:
    """Apply the rule in the module docstring to two loss vectors over the same samples."""
    cand_lpt = loss_per_token(candidate.losses, candidate.tokens)
    if best is None:
        return Comparison(len(candidate.losses), block, None, None, cand_lpt, None, 0.0, 1.0, True)
    assert best_commit_block is not None
    raw = np.array([best.losses, candidate.losses], dtype=np.float64)
    grouped = raw
    if competition.group_samples > 1:
        grouped = scoring.group_losses(raw, competition.group_samples, derive_seed(seed, "group", competition.id))
    rates = scoring.win_rates(grouped, [best_commit_block, block], block,
                              advantage_initial=competition.advantage_initial,
                              advantage_decay=competition.advantage_decay)
    factor = scoring.advantage_factor(best_commit_block, block, advantage_initial=competition.advantage_initial,
                                      advantage_decay=competition.advantage_decay)
    rate = float(rates[1])
    return Comparison(len(candidate.losses), block, best_pointer, best_commit_block, cand_lpt,
                      loss_per_token(best.losses, best.tokens), 1.0 - factor, rate, rate > REQUIRED_WIN_RATE)
