"""Kill points for the fault suites: `kill -9` of the daemon at a named phase of a round. Off by default.

`SN29_FAULT_KILL_AT=<phase>:<n>[:<delay_s>]` makes the n-th arrival of this process at `<phase>` send SIGKILL,
at once or after `delay_s` seconds from a timer thread while the round runs on into the phase (so the kill
lands at an instant inside it: mid-copy of a download, mid-forward of an evaluation). With the variable unset
`reached` is a dictionary lookup and nothing else; a malformed value is refused at start-up (`armed`).

Why a hook in the daemon rather than kills timed from its log lines: the windows that matter most are
microseconds wide and no log line marks their inside (the chain write has landed but is not recorded yet; an
evaluation's losses are in hand but not committed). A kill timed from outside lands there almost never, so a
suite claiming "killed during the weight write" could not show that it was. `tests/test_faults_kill.py` uses
both: these points to cover every phase, and kills at random times to land wherever they happen to.

The kill takes the process group when the daemon leads it (the test starts it in a session of its own), so
the evaluation worker dies with it, as with `kill -9 -<pgid>` or the OOM killer taking a cgroup; otherwise
only the daemon (the worker then sees its pipe close and exits).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections import Counter
from dataclasses import dataclass

log = logging.getLogger(__name__)

ENV = "SN29_FAULT_KILL_AT"

# In the order a round reaches them. Each is placed just *before* the commit or write it names the window of.
PHASES = (
    "plan",  # the chain is read and the round chosen; the plan is not committed
    "download",  # a model is claimed (running); its download starts
    "evaluate",  # a model is downloaded and verified; its evaluation starts in the worker
    "commit",  # a model's losses are in hand; the transaction that records them has not run
    "score",  # the round's results and moving average are computed; not committed
    "weights",  # the weights intent is committed; the chain write has not been sent
    "weight_write",  # the chain write has landed; its answer is not recorded
    "done",  # the weights are recorded; the round is not marked done
)


@dataclass(frozen=True)
class KillAt:
    phase: str
    nth: int
    delay_s: float = 0.0

    def format(self) -> str:
        return f"{self.phase}:{self.nth}" + (f":{self.delay_s:g}" if self.delay_s else "")


def parse(spec: str) -> KillAt:
    """`phase:n[:delay_s]` as a `KillAt`; ValueError naming what is wrong otherwise."""
    parts = spec.strip().split(":")
    if len(parts) not in (2, 3) or parts[0] not in PHASES:
        raise ValueError(f"{ENV}={spec!r}: expected <phase>:<n>[:<delay_s>] with phase one of {', '.join(PHASES)}")
    try:
        nth, delay = int(parts[1]), float(parts[2]) if len(parts) == 3 else 0.0
    except ValueError:
        raise ValueError(f"{ENV}={spec!r}: n must be an integer and delay_s a number") from None
    if nth < 1 or not 0 <= delay < 3600:
        raise ValueError(f"{ENV}={spec!r}: n must be >= 1 and delay_s in [0, 3600)")
    return KillAt(parts[0], nth, delay)


_counts: Counter[str] = Counter()
_target: KillAt | None = None
_loaded = False


def armed() -> KillAt | None:
    """The kill point this process was started with (parsed once), or None."""
    global _target, _loaded
    if not _loaded:
        spec = os.environ.get(ENV, "")
        _target = parse(spec) if spec else None
        _loaded = True
    return _target


def reached(phase: str) -> None:
    """Mark an arrival at `phase`; kills the process when it is the armed point's n-th."""
    target = armed()
    if target is None or target.phase != phase:
        return
    _counts[phase] += 1
    if _counts[phase] != target.nth:
        return
    log.warning("fault point %s reached: kill -9%s", target.format(),
                f" in {target.delay_s:g} s" if target.delay_s else "")
    if target.delay_s:
        threading.Timer(target.delay_s, kill_now).start()
    else:
        kill_now()


def kill_now() -> None:
    """SIGKILL this process (and its group when it leads one): no handler, no flush, no cleanup runs."""
    sys.stderr.flush()
    if os.getpgrp() == os.getpid():
        os.killpg(os.getpid(), signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
