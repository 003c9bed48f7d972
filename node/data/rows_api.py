"""A small client for the Hugging Face dataset-viewer API (`/size`, `/rows`), stdlib only.

Why not `datasets` or `requests`: the validator needs exactly two GET endpoints, with a hard
timeout, bounded retries, and a size limit on what it reads; urllib gives all three without a
new dependency. The endpoint is configurable so tests run this very code against a loopback
stand-in, and a mirror can be used in production.

Retry policy: connection errors, timeouts, HTTP 429 and 5xx are retried up to `retries` times
with exponential backoff (a numeric `Retry-After` is honoured, capped at `max_backoff_s`); other
4xx and malformed JSON are not retried. Giving up raises `FetchError` naming the URL, the last
error and the attempt count.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass

DEFAULT_ENDPOINT = "https://datasets-server.huggingface.co"
FINEWEB_EDU_2 = "HuggingFaceFW/fineweb-edu-score-2"
MAX_ROWS_PER_REQUEST = 100  # the API's own limit for `length`


class FetchError(RuntimeError):
    """A remote request failed for good (after retries, or with a non-retryable status)."""


@dataclass(frozen=True)
class SplitInfo:
    """One (config, split) of a dataset and its row count, as listed by `/size`."""

    config: str
    split: str
    num_rows: int


@dataclass(frozen=True)
class Row:
    """One dataset row: its index within (config, split) and its text."""

    index: int
    text: str


def _retry_after(err: urllib.error.HTTPError) -> float | None:
    value = err.headers.get("Retry-After") if err.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class RowsApiClient:
    """GET `/size` and `/rows` of one dataset with timeouts and bounded retries."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        dataset: str = FINEWEB_EDU_2,
        *,
        timeout_s: float = 30.0,
        retries: int = 4,
        backoff_s: float = 2.0,
        max_backoff_s: float = 60.0,
        max_response_bytes: int = 64 * 1024 * 1024,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.endpoint = endpoint.rstrip("/")
        self.dataset = dataset
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_response_bytes = max_response_bytes
        self._sleep = sleep
        self.requests_made = 0

    def _url(self, path: str, params: Mapping[str, str | int]) -> str:
        return f"{self.endpoint}/{path}?{urllib.parse.urlencode(params)}"

    def _once(self, url: str) -> object:
        """One GET; returns parsed JSON. Raises HTTPError/URLError/OSError for the retry loop."""
        self.requests_made += 1
        request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "sn29-node"})
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            body = response.read(self.max_response_bytes + 1)
        if len(body) > self.max_response_bytes:
            raise FetchError(f"{url}: response larger than {self.max_response_bytes} bytes")
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FetchError(f"{url}: invalid JSON in response ({exc})") from exc

    def get_json(self, path: str, params: Mapping[str, str | int]) -> object:
        """GET with the retry policy described in the module docstring."""
        url = self._url(path, params)
        attempts = self.retries + 1
        last = "no attempt made"
        for attempt in range(attempts):
            delay = min(self.max_backoff_s, self.backoff_s * 2**attempt)
            try:
                return self._once(url)
            except urllib.error.HTTPError as err:
                err.close()
                if err.code != 429 and not 500 <= err.code < 600:
                    raise FetchError(f"GET {url} failed: HTTP {err.code} {err.reason} (not retried)") from err
                last = f"HTTP {err.code} {err.reason}"
                hint = _retry_after(err)
                if hint is not None:
                    delay = min(self.max_backoff_s, max(0.0, hint))
            except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as err:
                last = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
            if attempt + 1 < attempts:
                self._sleep(delay)
        raise FetchError(f"GET {url} failed after {attempts} attempts; last error: {last}")

    def splits(self) -> list[SplitInfo]:
        """Every (config, split) with rows, sorted, without the aggregate `default` config."""
        data = self.get_json("size", {"dataset": self.dataset})
        try:
            entries = data["size"]["splits"]  # type: ignore[index]
            out = {
                SplitInfo(str(e["config"]), str(e["split"]), int(e["num_rows"]))
                for e in entries
                if e["config"] != "default" and int(e["num_rows"]) > 0
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise FetchError(f"unexpected /size response for {self.dataset}: {exc!r}") from exc
        if not out:
            raise FetchError(f"/size lists no non-empty configs for {self.dataset}")
        return sorted(out, key=lambda s: (s.config, s.split))

    def rows(self, config: str, split: str, offset: int, length: int) -> list[Row]:
        """Rows [offset, offset+length) of one split; rows without a string `text` are skipped."""
        if not 0 < length <= MAX_ROWS_PER_REQUEST:
            raise ValueError(f"length must be in 1..{MAX_ROWS_PER_REQUEST}")
        params = {"dataset": self.dataset, "config": config, "split": split, "offset": offset, "length": length}
        data = self.get_json("rows", params)
        if not isinstance(data, dict) or not isinstance(data.get("rows"), list):
            raise FetchError(f"unexpected /rows response for {config}/{split}@{offset}")
        out: list[Row] = []
        for item in data["rows"][:length]:
            if not isinstance(item, dict) or not isinstance(item.get("row"), dict):
                continue
            index, text = item.get("row_idx"), item["row"].get("text")
            if isinstance(index, int) and isinstance(text, str):
                out.append(Row(index=index, text=text))
        return out
