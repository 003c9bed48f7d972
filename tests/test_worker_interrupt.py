"""An interrupted worker (its owner is stopping) answers every later call at once, without starting a child."""

from __future__ import annotations

import os

from node.refusal import RefusalKind
from node.worker import INTERRUPTED, IsolatedWorker


def test_calls_after_an_interrupt_are_refused_without_a_new_child():
    worker = IsolatedWorker()
    try:
        first = worker.call(os.getpid, timeout_s=120)
        assert first.ok and first.value != os.getpid() and worker.starts == 1
        worker.interrupt()
        later = worker.call(os.getpid, timeout_s=120)
        assert (later.kind, later.message) == (RefusalKind.EVAL_CRASH, INTERRUPTED)
        assert worker.starts == 1  # no second child was spawned
    finally:
        worker.close()
