"""The long-lived isolated worker: one start-up for many calls, and every failure contained and named."""

from __future__ import annotations

from node.refusal import RefusalKind
from node.worker import IsolatedWorker
from standins import worker_fns


def test_calls_reuse_one_process_and_failures_are_contained():
    with IsolatedWorker() as worker:
        first = worker.call(worker_fns.pid, timeout_s=60)
        assert first.ok and worker.call(worker_fns.pid, timeout_s=60).value == first.value
        assert worker.call(worker_fns.add, 2, b=3, timeout_s=60).value == 5
        refused = worker.call(worker_fns.refuse, timeout_s=60)
        assert (refused.kind, refused.message) == (RefusalKind.VOCAB, "id 99 >= vocab size 96")
        error = worker.call(worker_fns.fail, timeout_s=60)
        assert error.kind is RefusalKind.EVAL_ERROR and "KeyError" in error.message
        assert worker.call(worker_fns.pid, timeout_s=60).value == first.value and worker.starts == 1


def test_a_hang_is_killed_at_its_limit_and_a_crash_is_named_then_the_next_call_works():
    with IsolatedWorker() as worker:
        hung = worker.call(worker_fns.sleep_forever, timeout_s=1.0)
        assert hung.kind is RefusalKind.EVAL_TIMEOUT and 0.9 < hung.seconds < 10
        crashed = worker.call(worker_fns.die_by_sigkill, timeout_s=60)
        assert crashed.kind is RefusalKind.EVAL_CRASH and "SIGKILL" in crashed.message
        assert worker.call(worker_fns.add, 1, 1, timeout_s=60).value == 2 and worker.starts == 3
