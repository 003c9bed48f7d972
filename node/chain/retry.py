"""Bounded retries with exponential backoff, shared by the production chain and hub clients."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` tries in all; waits `base_delay * 2**k` (capped at `max_delay`) plus up to 10% jitter.

    Bounded on purpose: a validator loop must notice an outage (and keep its last known state) rather than
    block forever inside one call.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.1

    def delays(self) -> Iterator[float]:
        """The waits between attempts (`attempts - 1` of them)."""
        for k in range(max(self.attempts - 1, 0)):
            delay = min(self.max_delay, self.base_delay * (2**k))
            yield delay * (1 + self.jitter * random.random())


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    is_transient: Callable[[BaseException], bool],
    what: str = "call",
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[BaseException], None] | None = None,
    wait_hint: Callable[[BaseException], float | None] | None = None,
) -> T:
    """Run `fn`; retry only errors `is_transient` accepts; re-raise the last error when tries run out.

    `wait_hint` reads a wait the other side asked for (an HTTP `Retry-After`) from the error: the wait is then
    the longer of the backoff and that hint, the hint capped at `policy.max_delay` so a server cannot park the
    caller for longer than the policy allows."""
    delays = policy.delays()
    while True:
        try:
            return fn()
        except Exception as err:
            if not is_transient(err):
                raise
            delay = next(delays, None)
            if delay is None:
                raise
            hint = wait_hint(err) if wait_hint is not None else None
            if hint is not None:
                delay = max(delay, min(hint, policy.max_delay))
            log.warning("%s failed (%s: %s); retrying in %.2fs", what, type(err).__name__, err, delay)
            if on_retry is not None:
                on_retry(err)
            sleep(delay)
