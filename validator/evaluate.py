"""Losses of one verified model on a round's samples: cache first, spot checks, the isolated worker for the rest.

Losses are cached by (content hash, sample id, tokenisation policy, evaluation dtype): the same files score
the same on the same sample, whoever committed them and whenever. A round re-computes a few cached losses
per model (a fraction, capped) chosen deterministically from the round's seed; if any drifts beyond the
tolerance the model's cache is discarded and every sample is evaluated again, so a cache poisoned by a
bug, a changed kernel or a corrupted file heals itself in one round.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from node.data import Sample, TokenizerPolicy
from node.data.seeding import select_ids
from node.evaluation import EvalSettings
from node.evaluation.model_job import JobResult, evaluate_model
from node.refusal import Refused
from node.worker import IsolatedWorker
from validator.state import LossRow, StateStore


@dataclass(frozen=True)
class ModelLosses:
    """The round's loss vector for one model, and what it cost."""

    losses: list[float]  # in round sample order
    tokens: list[int]
    new_rows: list[LossRow]  # to store (all rows when the cache was dropped)
    evaluated: int
    cached: int
    drift: bool
    seconds: float


def policy_key(policy: TokenizerPolicy, tokenizer_sha256: str | None) -> str:
    """A short key for "these ids come from this text": the policy's fields plus the tokenizer file's sha256."""
    fields = {k: str(v) for k, v in sorted(asdict(policy).items())}
    fields["tokenizer_sha256"] = tokenizer_sha256 or "model"
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def spot_check_ids(cached_ids: Sequence[str], seed: int, content_hash: str, fraction: float, cap: int) -> list[str]:
    """Which cached samples to recompute: ceil(fraction x cached), at most `cap`, picked by hashing."""
    if not cached_ids or fraction <= 0 or cap <= 0:
        return []
    count = min(cap, max(1, math.ceil(fraction * len(cached_ids))))
    return select_ids(cached_ids, seed ^ int(hashlib.sha256(content_hash.encode()).hexdigest()[:15], 16), count)


def drifted(old: float, new: float, tolerance: float) -> bool:
    if math.isinf(old) or math.isinf(new):
        return old != new
    return abs(new - old) > tolerance * max(abs(old), 1e-12)


class RoundEvaluator:
    """Evaluates models for the daemon through one long-lived isolated worker."""

    def __init__(self, state: StateStore, worker: IsolatedWorker, *, timeout_s: float, spot_fraction: float,
                 spot_max: int, tolerance: float) -> None:
        self.state = state
        self.worker = worker
        self.timeout_s = timeout_s
        self.spot_fraction = spot_fraction
        self.spot_max = spot_max
        self.tolerance = tolerance

    def _run(self, model_dir: str, samples: Sequence[Sample], policy: TokenizerPolicy,
             settings: EvalSettings, check_finite: bool) -> tuple[JobResult, float]:
        result = self.worker.call(evaluate_model, model_dir, [(s.id, s.text) for s in samples], policy, settings,
                                  check_finite, timeout_s=self.timeout_s)
        if not result.ok:
            raise Refused(result.kind, result.message)
        job: JobResult = result.value
        if any(math.isnan(x) for x in job.losses):
            from node.refusal import RefusalKind

            nans = sum(math.isnan(x) for x in job.losses)
            raise Refused(RefusalKind.NAN_LOSS, f"NaN loss on {nans} of {len(job.losses)} samples")
        return job, job.seconds  # the evaluation's own time, without the worker's start-up

    def losses(self, model_dir: str, content_hash: str, samples: Sequence[Sample], policy: TokenizerPolicy,
               policy_id: str, settings: EvalSettings, seed: int, *, check_finite: bool = True) -> ModelLosses:
        """Cached where possible, spot-checked, the rest evaluated; raises `Refused` for a failing model.

        `check_finite`: scan the weights for NaN/inf first (once per content: the files never change after).
        """
        ids = [s.id for s in samples]
        cached = self.state.cached_losses(content_hash, policy_id, settings.dtype, ids)
        spot = spot_check_ids(sorted(cached), seed, content_hash, self.spot_fraction, self.spot_max)
        todo = [s for s in samples if s.id not in cached or s.id in spot]
        fresh: dict[str, LossRow] = {}
        seconds = 0.0
        if todo:
            job, seconds = self._run(model_dir, todo, policy, settings, check_finite)
            fresh = {s.id: LossRow(s.id, loss, tok) for s, loss, tok in zip(todo, job.losses, job.tokens, strict=True)}
        drift = any(drifted(cached[i].loss, fresh[i].loss, self.tolerance) for i in spot)
        if drift:
            job, more = self._run(model_dir, samples, policy, settings, False)
            seconds += more
            rows = [LossRow(s.id, loss, tok) for s, loss, tok in zip(samples, job.losses, job.tokens, strict=True)]
            return ModelLosses([r.loss for r in rows], [r.tokens for r in rows], rows, len(rows), 0, True, seconds)
        merged = {**cached, **fresh}
        new_rows = [fresh[i] for i in ids if i in fresh and i not in spot]
        return ModelLosses([merged[i].loss for i in ids], [merged[i].tokens for i in ids], new_rows,
                           len(todo), len(ids) - len(todo) + len(spot), False, seconds)
