"""A long-lived isolated worker process: start-up paid once, every call still bounded and contained.

`evaluate_isolated` spawns a fresh interpreter per evaluation, which costs seconds (importing torch) before the
first token; a validator evaluating many models per round would spend most of its time starting processes.
`IsolatedWorker` keeps one spawned child and sends it one call at a time over a pipe. Each call has a
wall-time limit: on a timeout the child is killed and the next call starts a fresh one. A child that dies
(the OOM killer, a native fault) is reported with the signal and replaced, so the caller goes on either way;
one that runs out of memory under its own limit (`MemoryError`) reports `OVER_MEMORY` and exits, so the next
call does not inherit its heap or its limits.
Only functions importable by name cross the boundary (spawn pickles them by reference), never miner code.
This module imports nothing heavy, so a child starts in the time Python itself takes; the functions it is
sent import torch and the rest when they run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.refusal import RefusalKind, Refused


@dataclass(frozen=True)
class CallResult:
    """What one isolated call gave: a value, or a refusal kind with its message."""

    value: Any = None
    kind: RefusalKind | None = None
    message: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.kind is None


def _serve(conn, env: dict[str, str]) -> None:
    os.environ.update(env)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle, it stops us cleanly
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        fn, args, kwargs = request
        try:
            conn.send(("ok", fn(*args, **kwargs)))
        except Refused as exc:
            conn.send(("refused", exc.kind.value, exc.message))
        except MemoryError as exc:  # report, then exit: the next call gets a fresh process, not this one's heap
            conn.send(("oom", f"out of memory during the evaluation: MemoryError: {exc}"[:2000]))
            return
        except BaseException as exc:  # report, then keep serving
            detail = traceback.format_exc(limit=4).strip().splitlines()[-1]
            conn.send(("error", f"{type(exc).__name__}: {exc}"[:2000], detail[:500]))


def exit_reason(exitcode: int | None) -> str:
    """A dead child's exit status in words (SIGKILL is what the OOM killer sends)."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = str(-exitcode)
        hint = " (likely the out-of-memory killer)" if -exitcode == signal.SIGKILL else ""
        return f"evaluation process killed by signal {name}{hint}"
    return f"evaluation process exited with code {exitcode} without a result"


INTERRUPTED = "interrupted: the worker's owner is stopping"


class IsolatedWorker:
    """One child process at a time; `call` blocks until the answer, the limit, or the child's death."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self._env = dict(env or {})
        self._context = mp.get_context("spawn")
        self._process = None
        self._conn = None
        self.starts = 0
        self._interrupted = False

    def _start(self) -> None:
        receiver, sender = self._context.Pipe(duplex=True)
        self._process = self._context.Process(target=_serve, args=(sender, self._env), daemon=True)
        self._process.start()
        sender.close()
        self._conn = receiver
        self.starts += 1

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def call(self, fn: Callable[..., Any], *args: Any, timeout_s: float, **kwargs: Any) -> CallResult:
        if self._interrupted:  # the owner is stopping: no new child (starting one costs seconds of imports)
            return CallResult(kind=RefusalKind.EVAL_CRASH, message=INTERRUPTED)
        if self._process is None or not self._process.is_alive():
            self._discard()
            self._start()
        started = time.perf_counter()
        try:
            self._conn.send((fn, args, kwargs))
            if not self._conn.poll(timeout_s):
                self._discard(kill=True)
                return CallResult(kind=RefusalKind.EVAL_TIMEOUT, message=f"no result within {timeout_s:g} s",
                                  seconds=time.perf_counter() - started)
            message = self._conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            process = self._process
            if process is not None:
                process.join(5)
            reason = exit_reason(None if process is None else process.exitcode)
            self._discard(kill=True)
            return CallResult(kind=RefusalKind.EVAL_CRASH, message=reason, seconds=time.perf_counter() - started)
        seconds = time.perf_counter() - started
        if message[0] == "ok":
            return CallResult(value=message[1], seconds=seconds)
        if message[0] == "oom":  # the child exits after sending this: wait for it, the next call starts afresh
            self._discard()
            return CallResult(kind=RefusalKind.OVER_MEMORY, message=message[1], seconds=seconds)
        if message[0] == "refused":
            return CallResult(kind=RefusalKind(message[1]), message=message[2], seconds=seconds)
        return CallResult(kind=RefusalKind.EVAL_ERROR, message=message[1], seconds=seconds)

    def _discard(self, kill: bool = False) -> None:
        if self._process is not None:
            if kill and self._process.is_alive():
                self._process.kill()
            self._process.join(5)
        if self._conn is not None:
            self._conn.close()
        self._process = None
        self._conn = None

    def interrupt(self) -> None:
        """Kill the child now and refuse later calls (safe from a signal handler): the owner is stopping, so a
        call in flight returns `EVAL_CRASH`, and so does every later one, without starting a new child."""
        self._interrupted = True
        process = self._process
        if process is not None and process.is_alive():
            process.kill()

    def close(self) -> None:
        """Ask the child to exit; kill it if it does not within a few seconds."""
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            try:
                self._conn.send(None)
                self._process.join(5)
            except (OSError, BrokenPipeError):
                pass
        self._discard(kill=True)

    def __enter__(self) -> IsolatedWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
