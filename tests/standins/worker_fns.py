"""Functions the isolated-worker tests send to the child process (importable by name, as spawn requires)."""

from __future__ import annotations

import os
import signal
import time

from node.refusal import RefusalKind, Refused


def pid() -> int:
    return os.getpid()


def add(a: int, b: int) -> int:
    return a + b


def sleep_forever() -> None:
    time.sleep(600)


def die_by_sigkill() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def refuse() -> None:
    raise Refused(RefusalKind.VOCAB, "id 99 >= vocab size 96")


def fail() -> None:
    raise KeyError("rope_type")
