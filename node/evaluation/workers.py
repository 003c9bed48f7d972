"""Batches in parallel on one-thread workers.

On a CPU with a few cores, splitting every op across the cores (torch's intra-op threads) pays a
barrier per op and leaves memory-bound ops (norms, softmax, the head's logits) badly scaled. Running
whole batches side by side, each on one core, keeps every core busy on its own batch. The workers
are threads of this process sharing the model's weights (torch ops release the GIL), so memory use
grows only by one batch's activations per worker. A batch's numbers do not depend on which worker
ran it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TypeVar

import torch

Item = TypeVar("Item")

_threads_lock = threading.Lock()


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Set torch's intra-op thread count for the duration, then restore it. The count is process-wide,
    so the lock is held throughout: a second parallel run in this process waits for the first."""
    with _threads_lock:
        before = torch.get_num_threads()
        torch.set_num_threads(count)
        try:
            yield
        finally:
            torch.set_num_threads(before)


def run_parallel(work: Callable[[Item], None], items: Sequence[Item], workers: int,
                 cost: Callable[[Item], int] | None = None) -> None:
    """Call `work` on every item, `workers` at a time, costliest first (so no worker is left with a big
    item at the end); the first failure cancels what has not started and is re-raised."""
    workers = max(1, min(workers, len(items)))
    if workers == 1:
        for item in items:
            work(item)
        return
    order = sorted(items, key=cost, reverse=True) if cost else list(items)
    grad_enabled = torch.is_grad_enabled()  # grad mode is per thread: carry the caller's into the workers

    def call(item: Item) -> None:
        with torch.set_grad_enabled(grad_enabled):
            work(item)

    with intra_op_threads(1), ThreadPoolExecutor(max_workers=workers, thread_name_prefix="eval-worker") as pool:
        futures = [pool.submit(call, item) for item in order]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
