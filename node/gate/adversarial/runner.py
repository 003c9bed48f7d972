"""Run cases in worker processes (batched, or one per case) and judge each result against its case.

A worker that stops answering is killed once the running case is past its time bound plus a grace
period; that case is recorded as a hang and the remaining cases go to a fresh worker.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..limits import GIB
from .registry import Case

DEFAULT_ADDRESS_SPACE = 3 * GIB
START_GRACE_S = 120.0  # interpreter + torch import on a loaded machine, before the first case starts
HANG_GRACE_S = 20.0
OUTCOMES = ("refused_with_reason", "accepted", "wrong_reason", "generic", "hangs", "over_memory",
            "wrongly_accepted", "wrongly_refused", "build_error")


@dataclass(frozen=True)
class CaseResult:
    case: Case
    got: str
    seconds: float
    peak_bytes: int
    message: str = ""

    @property
    def outcome(self) -> str:
        if self.got == "build_error":
            return "build_error"
        if self.got in ("hang", "MemoryError"):
            return "hangs" if self.got == "hang" else "over_memory"
        if self.seconds > self.case.seconds:
            return "hangs"
        if self.peak_bytes > self.case.memory_bytes:
            return "over_memory"
        expected = self.case.expected
        if expected is None:
            return "accepted" if self.got == "accepted" else "wrongly_refused"
        if self.got == expected.value:
            return "refused_with_reason"
        if self.got == "accepted":
            return "wrongly_accepted"
        from node.refusal import RefusalKind

        return "wrong_reason" if self.got in RefusalKind._value2member_map_ else "generic"

    @property
    def ok(self) -> bool:
        return self.outcome in ("refused_with_reason", "accepted")


def _worker_env(scratch: str) -> dict[str, str]:
    env = dict(os.environ)
    # The worker's temporary files (base models, case folders) go under a folder this process removes: a worker
    # killed for hanging cannot clean up after itself.
    env["TMPDIR"] = scratch
    root = Path(__file__).resolve().parents[3]
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(root / "patches"), env.get("PYTHONPATH", "")])
    env.setdefault("MALLOC_ARENA_MAX", "2")  # glibc reserves 64 MiB of address space per thread arena otherwise
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def _run_batch(cases: list[Case], address_space: int, hang_grace_s: float) -> tuple[list[CaseResult], list[Case]]:
    """Results for the cases this worker finished, and the cases left when it hung or died."""
    controls = ["--controls"] if any(c.group == "control" for c in cases) else []
    command = [sys.executable, "-m", "node.gate.adversarial.worker", "--address-space", str(address_space),
               *controls, *(c.name for c in cases)]
    with tempfile.TemporaryDirectory(prefix="sn29-adversarial-") as scratch:
        return _watch_worker(command, scratch, cases, hang_grace_s)


def _watch_worker(command: list[str], scratch: str, cases: list[Case],
                  hang_grace_s: float) -> tuple[list[CaseResult], list[Case]]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=_worker_env(scratch))
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in process.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    by_name = {c.name: c for c in cases}
    results: list[CaseResult] = []
    current: Case | None = None
    deadline = time.monotonic() + START_GRACE_S
    try:
        while True:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                line = "timeout"
            if line is None or line == "timeout":
                break
            message = json.loads(line)
            if "start" in message:  # building the input: our own code, given the start-up grace
                current = by_name[message["start"]]
                deadline = time.monotonic() + START_GRACE_S
                continue
            if "attempt" in message:  # the attempt on the input: its bound plus a grace
                deadline = time.monotonic() + current.seconds + hang_grace_s
                continue
            results.append(CaseResult(by_name[message["name"]], message["got"], message["seconds"],
                                      message["peak_bytes"], message.get("message", "")))
            current = None
            deadline = time.monotonic() + START_GRACE_S  # until the next start line (its build is not timed)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    done = {r.case.name for r in results}
    left = [c for c in cases if c.name not in done]
    if current is not None:
        results.append(CaseResult(current, "hang" if line == "timeout" else "worker_died",
                                  current.seconds + hang_grace_s, 0, "no answer within the bound"))
        left = [c for c in left if c.name != current.name]
    return results, left


def run_cases(cases: list[Case], *, batches: int = 1, one_per_case: bool = False,
              address_space: int = DEFAULT_ADDRESS_SPACE, hang_grace_s: float = HANG_GRACE_S) -> list[CaseResult]:
    """Every case's result, in registry order."""
    pending = [[c] for c in cases] if one_per_case else [cases[i::batches] for i in range(batches)]
    results: list[CaseResult] = []
    while pending:
        batch = pending.pop(0)
        if not batch:
            continue
        done, left = _run_batch(batch, address_space, hang_grace_s)
        results += done
        if left:
            pending.append(left)
    order = {c.name: i for i, c in enumerate(cases)}
    return sorted(results, key=lambda r: order[r.case.name])


def summary(results: list[CaseResult]) -> str:
    counts = Counter(r.outcome for r in results)
    hostile = sum(1 for r in results if r.case.expected is not None)
    valid = len(results) - hostile
    slowest = max((r.seconds for r in results if r.case.expected is not None), default=0.0)
    biggest = max((r.peak_bytes for r in results if r.case.expected is not None), default=0)
    return (f"cases={hostile} refused_with_reason={counts['refused_with_reason']} generic={counts['generic']} "
            f"wrong_reason={counts['wrong_reason']} hangs={counts['hangs']} over_memory={counts['over_memory']} "
            f"wrongly_accepted={counts['wrongly_accepted']} valid={valid} accepted={counts['accepted']} "
            f"wrongly_refused={counts['wrongly_refused']} build_errors={counts['build_error']} "
            f"max_hostile_seconds={slowest:.3f} max_hostile_peak_mib={biggest / 2**20:.1f}")
