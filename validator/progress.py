"""Progress for long steps (a model's download, verification and evaluation; a round): shown on a terminal only.

On a terminal a step draws a transient spinner with its elapsed time on stderr, and log lines keep printing
above it (the log handler writes to whatever `sys.stderr` is at that moment, which rich redirects while the
spinner is live). Anywhere else (a log file, journald, pm2, `--logging.json`) nothing is drawn: the step's
own log lines are the record. Every step also binds its round and model to the log records emitted inside
it (`validator.logs.bind`), so JSON lines carry `round` and `hotkey` fields.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from validator import logs

_console: Console | None = None


def configure(*, json_lines: bool, console: Console | None = None) -> None:
    """Draw progress on `console`, else on stderr when it is a terminal and logs are not JSON lines."""
    global _console
    if console is not None:
        _console = console
    elif not json_lines and sys.stderr.isatty():
        _console = Console(file=sys.stderr)
    else:
        _console = None


def enabled() -> bool:
    return _console is not None


@contextmanager
def step(description: str, *, round: int | None = None, hotkey: str | None = None) -> Iterator[None]:
    """One long step: a spinner on a terminal, and `round`/`hotkey` on every log record emitted inside."""
    with logs.bind(round=round, hotkey=hotkey):
        if _console is None:
            yield
            return
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=_console, transient=True) as progress:
            progress.add_task(description, total=None)
            yield
