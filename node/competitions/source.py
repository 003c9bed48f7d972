"""Where the competitions document comes from: the bundled copy, a local file, or an http(s) URL.

A validator reads `source.current()` once per round, so a new document takes effect at a round
boundary, never in the middle of one. Every failure (unreachable, slow, huge, not JSON, invalid)
is logged, kept in `last_error`, and the previous valid document stays in force: a broken edit
upstream must not stop validators, and an invalid document is never half-applied.

Fetching uses stdlib `urllib` (no new dependency), one request per refresh (the next refresh is
the retry), a per-operation socket timeout plus a total deadline on the body, and a byte limit
checked while reading (`read1`, at most one socket read per step), so a huge or trickling body
neither exhausts memory nor holds the validator for longer than about twice `timeout_s`.
Redirects are followed only to http(s) URLs.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from node.competitions.fields import CompetitionsError
from node.competitions.schema import MAX_DOCUMENT_BYTES, Competitions, bundled_competitions, parse_competitions_bytes

log = logging.getLogger(__name__)

DEFAULT_REFRESH_S = 600.0
DEFAULT_TIMEOUT_S = 30.0
_CHUNK = 64 * 1024


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # urllib calls it with these arguments
        if urllib.parse.urlsplit(newurl).scheme not in ("http", "https"):
            raise CompetitionsError(f"refusing a redirect to {newurl[:200]!r}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def fetch_bytes(url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S, max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """GET `url` with a byte limit and a total deadline on the body; raise CompetitionsError."""
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "sn29-node"})
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                raise CompetitionsError(f"{url}: Content-Length {declared} exceeds the {max_bytes}-byte limit")
            chunks: list[bytes] = []
            total = 0
            while chunk := response.read1(_CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise CompetitionsError(f"{url}: body exceeds the {max_bytes}-byte limit")
                if time.monotonic() > deadline:
                    raise CompetitionsError(f"{url}: body not complete within {timeout_s:g} s")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise CompetitionsError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # URLError, timeouts, resets, bad URLs
        if isinstance(exc, CompetitionsError):
            raise
        raise CompetitionsError(f"{url}: {type(exc).__name__}: {getattr(exc, 'reason', exc)}") from None
    return b"".join(chunks)


def read_file_bytes(path: Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> bytes:
    """A local document, refusing anything over `max_bytes` (checked on the bytes read)."""
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise CompetitionsError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise CompetitionsError(f"{path} exceeds the {max_bytes}-byte limit")
    return data


class CompetitionsSource:
    """The live competitions document: `current()` refreshes when due and keeps the last valid one.

    `spec`: None or `"bundled"` (the packaged default), an `http://`/`https://` URL, or a local
    file path. Until a first valid document is loaded, every `current()` tries again and, when
    that fails, returns `fallback` if one was given or raises CompetitionsError: starting with
    different rules from the rest of the network would be worse than not starting.
    """

    def __init__(
        self,
        spec: str | os.PathLike[str] | None = None,
        refresh_s: float = DEFAULT_REFRESH_S,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        fallback: Competitions | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if refresh_s < 0 or timeout_s <= 0 or max_bytes <= 0:
            raise ValueError("refresh_s must be >= 0, timeout_s and max_bytes > 0")
        text = None if spec is None else os.fspath(spec)
        if text is None or text == "bundled":
            self.kind = "bundled"
        elif urllib.parse.urlsplit(text).scheme in ("http", "https"):
            self.kind = "url"
        elif "://" in text:
            raise CompetitionsError(f"competitions source {text[:200]!r}: only http(s) URLs or local paths")
        else:
            self.kind = "file"
        self.spec = text or "bundled"
        self.refresh_s = refresh_s
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.fallback = fallback
        self._clock = clock
        self._lock = threading.Lock()  # a validator may ask from its sync and its evaluation threads
        self._document: Competitions | None = None
        self._last_attempt: float | None = None
        self.last_error: str | None = None
        self.loaded_at: float | None = None  # clock time of the last successful load

    def _load(self) -> Competitions:
        if self.kind == "bundled":
            return bundled_competitions()
        if self.kind == "url":
            data = fetch_bytes(self.spec, timeout_s=self.timeout_s, max_bytes=self.max_bytes)
        else:
            data = read_file_bytes(Path(self.spec).expanduser(), self.max_bytes)
        return parse_competitions_bytes(data, max_bytes=self.max_bytes)

    def refresh(self) -> bool:
        """Load now. True when a valid document was loaded (it replaces the current one)."""
        with self._lock:
            return self._refresh_locked()

    def _refresh_locked(self) -> bool:
        self._last_attempt = self._clock()
        try:
            document = self._load()
        except CompetitionsError as exc:
            self.last_error = str(exc)
            kept = f"keeping document {self._document.sha256[:12]}" if self._document else "no valid document yet"
            log.warning("competitions from %s rejected (%s): %s", self.spec, kept, exc)
            return False
        if self._document is None or document.sha256 != self._document.sha256:
            log.info("competitions from %s: document %s (%s)", self.spec, document.sha256[:12], ", ".join(document.ids))
        self._document = document
        self.last_error = None
        self.loaded_at = self._last_attempt
        return True

    def current(self) -> Competitions:
        """The document in force, refreshed first when `refresh_s` has passed since the last attempt."""
        with self._lock:
            due = (
                self._document is None
                or self._last_attempt is None
                or (self.kind != "bundled" and self._clock() - self._last_attempt >= self.refresh_s)
            )
            if due:
                self._refresh_locked()
            if self._document is not None:
                return self._document
            if self.fallback is not None:
                return self.fallback
            raise CompetitionsError(f"no valid competitions document from {self.spec}: {self.last_error}")
