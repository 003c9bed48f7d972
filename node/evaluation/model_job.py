"""What an isolated evaluation process runs for one model: tokenise, check, evaluate. Never in the caller.

Everything that touches a model's files beyond their metadata happens here, inside the worker process with
its time limit: the model's own tokenizer (with `free_tokenizer`), the weights' finiteness scan and the
forward passes. A hang, a native crash or an out-of-memory kill therefore costs one model, not the round.
The validator and the miner's publish check run this same function, so a
miner's comparison uses exactly the validator's tokenisation, checks and loss.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from node.data import Sample, TokenizerError, TokenizerPolicy, tokenize_samples
from node.evaluation import resident
from node.evaluation.engine import EvalSettings, evaluate_checkpoint
from node.modeling import read_model_config
from node.refusal import RefusalKind, Refused


@dataclass(frozen=True)
class JobResult:
    """Per-sample summed CE (inf for samples that could not be scored) and scored-token counts."""

    losses: list[float]
    tokens: list[int]
    tokenizer_sha256: str
    seconds: float
    notes: tuple[str, ...] = ()


def evaluate_model(
    model_dir: str, samples: Sequence[tuple[str, str]], policy: TokenizerPolicy, settings: EvalSettings,
    check_finite: bool = True,
) -> JobResult:
    """Score `samples` (`(id, text)`) on the model in `model_dir`; raises `Refused` for a model-level failure.

    `seconds` is the whole job (tokenisation, the finiteness scan, loading and the forward passes): the work of
    the evaluation process for this model, which the validator's round overhead is measured against.
    """
    started = time.perf_counter()
    config = read_model_config(model_dir)
    try:
        tokenizer = _tokenizer(policy, model_dir)
    except TokenizerError as exc:
        raise Refused(RefusalKind.BAD_TOKENIZER, str(exc)) from None
    batch = tokenize_samples([Sample(i, t, "round") for i, t in samples], tokenizer, policy,
                             vocab_size=int(config.vocab_size))
    refusal = batch.refusal()
    if refusal is not None:
        raise refusal
    if check_finite:
        from node.gate import scan_finite

        scan_finite(model_dir)
    ids = batch.id_lists()
    report = evaluate_checkpoint(model_dir, ids, settings)
    tokens = [max(len(x) - 1, 0) for x in ids]
    return JobResult(list(report.losses), tokens, batch.tokenizer_sha256, time.perf_counter() - started,
                     tuple(report.notes))


_tokenizers: dict[tuple, object] = {}


def _tokenizer(policy: TokenizerPolicy, model_dir: str):
    """The policy's tokenizer, parsed once per (policy, folder contents) in a long-lived worker."""
    key = (policy, resident.folder_key(model_dir))
    if key not in _tokenizers:
        if len(_tokenizers) >= 32:
            _tokenizers.clear()
        _tokenizers[key] = policy.load(model_dir)
    return _tokenizers[key]


def warm_up() -> bool:
    """Import what evaluation needs, so a fresh worker pays its start-up before the first model, not during it."""
    import node.gate  # noqa: F401

    return True
