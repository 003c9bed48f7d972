"""Logging for an unattended daemon: one line per event, human-readable by default, JSON lines on request.

`--logging.json` writes one JSON object per line (`ts`, `level`, `logger`, `message`, plus `round` and `hotkey`
when a record carries them), the shape log shippers ingest without parsing rules. A record carries them when it
is passed them (`extra=`) or emitted inside `bind(round=..., hotkey=...)` (what `validator.progress.step` does
around each model), so the caller's message text need not be parsed.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

_CONTEXT: contextvars.ContextVar[dict[str, object] | None] = contextvars.ContextVar("sn29_log_context", default=None)


@contextmanager
def bind(**fields: object) -> Iterator[None]:
    """Attach fields (None values are skipped) to every log record emitted in this context."""
    token = _CONTEXT.set({**(_CONTEXT.get() or {}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _CONTEXT.reset(token)


class ContextFields(logging.Filter):
    """Copies the bound fields onto each record (fields passed with `extra=` win)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_CONTEXT.get() or {}).items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class CurrentStderr:
    """`sys.stderr` looked up at each write, so a terminal progress display that redirects it keeps log lines
    above itself instead of being torn by them."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("round", "hotkey", "competition"):
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(*, json_lines: bool = False, debug: bool = False) -> None:
    handler = logging.StreamHandler(CurrentStderr())
    handler.addFilter(ContextFields())
    if json_lines:
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for noisy in ("urllib3", "httpx", "httpcore", "filelock", "huggingface_hub"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from validator import progress

    progress.configure(json_lines=json_lines)
