"""Loopback stand-in for the Hugging Face dataset-viewer API (`/size`, `/rows`).

Serves a synthetic FineWeb-like dataset whose row texts are a pure function of (config, row), so
tests can check exactly what the real client fetched. Failures can be scripted (a queue of
statuses for the next requests, a status for every request, pages that always fail, a delay),
and every request is counted, which is how cache hits ("no refetch") are proven.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler

from standins.loopback import LoopbackServer

DATASET = "HuggingFaceFW/fineweb-edu-score-2"
DEFAULT_CONFIGS = {"CC-MAIN-2024-10": 1000, "CC-MAIN-2024-18": 450, "CC-MAIN-2013-20": 60}
WORDS = "the of education students learn water energy history cell math teacher river school".split()


def row_text(config: str, index: int) -> str:
    """Deterministic pseudo-English text of one row (a few sentences)."""
    seed = sum(map(ord, config)) * 7919 + index * 104729
    words = [WORDS[(seed // (k + 1) + k * 31) % len(WORDS)] for k in range(20 + index % 15)]
    return f"Row {index} of {config}: " + " ".join(words).capitalize() + "."


class FineWebRowsStandin:
    """Context manager running the stand-in on 127.0.0.1 (random free port)."""

    def __init__(self, configs: dict[str, int] | None = None, dataset: str = DATASET) -> None:
        self.configs = dict(DEFAULT_CONFIGS if configs is None else configs)
        self.dataset = dataset
        self.requests: Counter[str] = Counter()
        self.log: list[tuple[str, dict[str, str]]] = []
        self.scripted: list[tuple[int, float | None]] = []
        self.always_status: int | None = None
        self.failing_pages: set[tuple[str, int]] = set()
        self.empty_rows: set[tuple[str, int]] = set()
        self.delay_next_s: float = 0.0
        self._lock = threading.Lock()
        self._loop = LoopbackServer(self._handler_class())

    @property
    def endpoint(self) -> str:
        return self._loop.url

    def fail_next(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        """The next `times` requests answer `status` (with an optional Retry-After header)."""
        self.scripted.extend([(status, retry_after)] * times)

    def __enter__(self) -> FineWebRowsStandin:
        self._loop.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.stop(timeout_s=5)

    # -- request handling ----------------------------------------------------------------------
    def _decide(self, path: str, params: dict[str, str]) -> tuple[int, object, dict[str, str]]:
        """(status, JSON body, extra headers) for one request; counts it."""
        with self._lock:
            self.requests[path] += 1
            self.log.append((path, params))
            if self.scripted:
                status, retry_after = self.scripted.pop(0)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                return status, {"error": "scripted failure"}, headers
            if self.always_status is not None:
                return self.always_status, {"error": "always failing"}, {}
        if params.get("dataset") != self.dataset:
            return 404, {"error": "dataset not found"}, {}
        if path == "size":
            return 200, self._size_body(), {}
        if path == "rows":
            return self._rows(params)
        return 404, {"error": f"unknown path {path}"}, {}

    def _size_body(self) -> dict[str, object]:
        splits = [
            {"dataset": self.dataset, "config": c, "split": "train", "num_rows": n, "num_bytes_parquet_files": n * 900}
            for c, n in self.configs.items()
        ]
        total = sum(self.configs.values())
        splits.append({"dataset": self.dataset, "config": "default", "split": "train", "num_rows": total})
        return {
            "size": {"dataset": {"dataset": self.dataset, "num_rows": total}, "splits": splits},
            "pending": [],
            "failed": [],
            "partial": False,
        }

    def _rows(self, params: dict[str, str]) -> tuple[int, object, dict[str, str]]:
        config, split = params.get("config", ""), params.get("split", "")
        try:
            offset, length = int(params.get("offset", "0")), int(params.get("length", "100"))
        except ValueError:
            return 422, {"error": "offset and length must be integers"}, {}
        if config not in self.configs or split != "train":
            return 404, {"error": "config or split not found"}, {}
        if offset < 0 or not 0 < length <= 100:
            return 422, {"error": "bad offset or length"}, {}
        if (config, offset) in self.failing_pages:
            return 500, {"error": "internal error for this page"}, {}
        n = self.configs[config]
        rows = [
            {
                "row_idx": i,
                "row": {
                    "text": "" if (config, i) in self.empty_rows else row_text(config, i),
                    "id": f"<urn:uuid:{config}-{i}>",
                    "int_score": 2,
                },
                "truncated_cells": [],
            }
            for i in range(offset, min(n, offset + length))
        ]
        return (
            200,
            {
                "features": [{"feature_idx": 0, "name": "text", "type": {"dtype": "string"}}],
                "rows": rows,
                "num_rows_total": n,
                "num_rows_per_page": 100,
                "partial": False,
            },
            {},
        )

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query))
                delay, standin.delay_next_s = standin.delay_next_s, 0.0
                status, body, headers = standin._decide(url.path.strip("/"), params)
                if delay:
                    time.sleep(delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

        return Handler
