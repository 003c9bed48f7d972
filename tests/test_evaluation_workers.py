"""The batch worker pool: every item once, the caller's grad mode, thread count restored, failures raised."""

from __future__ import annotations

import threading

import pytest
import torch

from node.evaluation.workers import run_parallel


def test_every_item_runs_once_on_one_thread_workers():
    seen, threads_in_worker, lock = [], set(), threading.Lock()

    def work(item: int) -> None:
        with lock:
            seen.append(item)
            threads_in_worker.add(torch.get_num_threads())

    before = torch.get_num_threads()
    run_parallel(work, list(range(23)), workers=3, cost=lambda item: item)
    assert sorted(seen) == list(range(23))
    assert threads_in_worker == {1}
    assert torch.get_num_threads() == before


def test_costliest_items_start_first():
    order = []
    run_parallel(order.append, [3, 9, 1, 7], workers=2, cost=lambda item: item)
    assert set(order[:2]) == {9, 7}


@pytest.mark.parametrize("grad", [True, False])
def test_workers_inherit_the_callers_grad_mode(grad):
    modes = []
    with torch.set_grad_enabled(grad):
        run_parallel(lambda _: modes.append(torch.is_grad_enabled()), [1, 2, 3], workers=2)
    assert modes == [grad] * 3


def test_a_failure_is_raised_and_thread_count_restored():
    before = torch.get_num_threads()

    def work(item: int) -> None:
        if item == 4:
            raise ValueError("bad batch 4")

    with pytest.raises(ValueError, match="bad batch 4"):
        run_parallel(work, list(range(8)), workers=2)
    assert torch.get_num_threads() == before


def test_one_worker_runs_in_the_calling_thread():
    callers = []
    run_parallel(lambda _: callers.append(threading.current_thread()), [1, 2], workers=1)
    assert callers == [threading.current_thread()] * 2
