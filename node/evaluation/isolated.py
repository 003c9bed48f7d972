"""Run an evaluation in its own process, with a wall-time limit.

A model can crash the interpreter (out of memory, a native fault) or hang; the daemon must go on
either way. The child is started with `spawn` (no inherited state), answers through a pipe, and is
killed when the limit passes. Every way it can end maps to a specific failure reason and a stable
`RefusalKind` (a refusal raised inside keeps its own kind); a NaN loss is a failure too (the
reference let an all-NaN model win every comparison).
"""

from __future__ import annotations

import math
import multiprocessing as mp
import signal
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.refusal import RefusalKind, Refused

from .engine import EvalReport, EvalSettings, evaluate_checkpoint

Worker = Callable[[str, Sequence[Sequence[int]], EvalSettings], EvalReport]


@dataclass
class EvalOutcome:
    report: EvalReport | None
    failure: str | None
    kind: RefusalKind | None = None  # the failure's stable reason kind

    @property
    def ok(self) -> bool:
        return self.failure is None


def _child(conn, worker: Callable[..., Any], args: tuple) -> None:
    try:
        conn.send(("ok", worker(*args)))
    except BaseException as exc:  # report everything, including MemoryError
        kind = exc.kind if isinstance(exc, Refused) else RefusalKind.EVAL_ERROR
        conn.send(("error", f"{type(exc).__name__}: {exc}", traceback.format_exc(limit=5), kind.value))
    finally:
        conn.close()


@dataclass
class IsolatedResult:
    """What a spawned call returned, or why it did not (message and stable kind)."""

    value: Any
    failure: str | None = None
    kind: RefusalKind | None = None


def run_isolated(worker: Callable[..., Any], args: tuple, timeout_s: float) -> IsolatedResult:
    """`worker(*args)` in a spawned process, killed after `timeout_s`; `worker` must be importable (picklable)."""
    context = mp.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, worker, args), daemon=True)
    process.start()
    sender.close()
    try:
        if not receiver.poll(timeout_s):
            return IsolatedResult(None, f"timeout: no result within {timeout_s:g} s", RefusalKind.EVAL_TIMEOUT)
        try:
            message = receiver.recv()
        except EOFError:
            process.join(5)
            return IsolatedResult(None, _exit_reason(process.exitcode), RefusalKind.EVAL_CRASH)
    finally:
        if process.is_alive():
            process.kill()
        process.join(5)
        receiver.close()
    if message[0] == "error":
        return IsolatedResult(None, f"evaluation failed: {message[1]}", RefusalKind(message[3]))
    return IsolatedResult(message[1])


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"evaluation process killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"evaluation process killed by signal {-exitcode}"
    return f"evaluation process exited with code {exitcode} without a result"


def evaluate_isolated(
    checkpoint_dir: str | Path,
    samples: Sequence[Sequence[int]],
    settings: EvalSettings,
    timeout_s: float,
    worker: Worker = evaluate_checkpoint,
) -> EvalOutcome:
    result = run_isolated(worker, (str(checkpoint_dir), list(samples), settings), timeout_s)
    if result.failure is not None:
        return EvalOutcome(None, result.failure, result.kind)
    report: EvalReport = result.value
    nans = sum(1 for loss in report.losses if math.isnan(loss))
    if nans:
        return EvalOutcome(report, f"non-finite model: NaN loss on {nans} of {len(report.losses)} samples",
                           RefusalKind.NAN_LOSS)
    return EvalOutcome(report, None)
