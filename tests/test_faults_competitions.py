"""The competitions URL under faults: garbage, a huge body, a slow body, an invalid document, a mid-round change.

A loopback HTTP server (stdlib, in a thread) serves the document the test sets; the validator reads it with
`--competitions http://127.0.0.1:PORT/competitions.json`. What must hold: the previous valid document stays in
force until a valid one arrives (each bad answer logged with its reason, never half-applied), a huge or trickling
body costs bounded memory and time, and a change takes effect at a round boundary (a planned round keeps the
document it was planned with).
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from fault_record import SCALES, record
from network import COMPETITION, Network, competitions_document
from node.competitions import CompetitionsSource, parse_competitions
from node.competitions.schema import MAX_DOCUMENT_BYTES
from small_model import require_assets
from standins.loopback import LoopbackServer
from validator.round import RoundRunner
from validator.services import build_services
from validator.settings import _coerce, field_for_key, resolve

TIMEOUT_S = 1.0


class DocumentServer:
    """Serves `mode`: "ok" (the `document` bytes), "garbage", "huge" (an endless stream, no Content-Length),
    "slow" (a valid document one byte every 50 ms), "invalid" (JSON that breaks the schema) or "error" (HTTP 500).
    `sent` counts the body bytes written for the current mode."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.document = b""
        self.sent = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                server.serve(self)

        self._loop = LoopbackServer(Handler)
        self.url = f"{self._loop.url}/competitions.json"

    def set(self, mode: str, document: dict | None = None) -> None:
        self.mode, self.sent = mode, 0
        if document is not None:
            self.document = json.dumps(document).encode()

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        mode = self.mode
        if mode == "error":
            handler.send_response(500)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        try:
            if mode == "huge":  # no Content-Length: only the reader's own limit stops it
                handler.send_header("Connection", "close")
                handler.end_headers()
                chunk = b"[" * 65536
                while self.sent < 64 * MAX_DOCUMENT_BYTES:
                    handler.wfile.write(chunk)
                    self.sent += len(chunk)
                return
            body = {"ok": self.document, "slow": self.document, "garbage": b"\x00\xffnot json{{{",
                    "invalid": json.dumps({COMPETITION: {"reward": "lots"}}).encode()}[mode]
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if mode == "slow":
                for i in range(len(body)):
                    handler.wfile.write(body[i:i + 1])
                    handler.wfile.flush()
                    self.sent += 1
                    time.sleep(0.05)
                return
            handler.wfile.write(body)
            self.sent += len(body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the reader gave up: what this fault is for

    def __enter__(self) -> DocumentServer:
        self._loop.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.stop()


@pytest.fixture
def server():
    with DocumentServer() as srv:
        srv.set("ok", competitions_document())
        yield srv


BAD_MODES = {"garbage": "not valid JSON", "huge": "limit", "slow": "within", "invalid": "reward",
             "error": "HTTP 500"}


@pytest.mark.parametrize("scale", SCALES)
def test_a_bad_answer_keeps_the_previous_document(server: DocumentServer, scale: str) -> None:
    source = CompetitionsSource(server.url, refresh_s=0, timeout_s=TIMEOUT_S)
    first = source.current()
    assert first.entries[COMPETITION].pool_size == 7
    cycles = 1 if scale == "short" else 4
    injected = recovered = 0
    slowest = 0.0
    for cycle in range(cycles):
        for mode, reason in BAD_MODES.items():
            server.set(mode)
            started = time.monotonic()
            assert source.current().sha256 == first.sha256  # refreshed (refresh_s=0), rejected, previous kept
            took = time.monotonic() - started
            injected += 1
            assert source.last_error is not None and reason in source.last_error, (mode, source.last_error)
            assert took < 2 * TIMEOUT_S + 1.0, (mode, took)  # a trickle or an endless body is cut off in time
            slowest = max(slowest, took)
            if mode == "huge":
                assert server.sent < 16 * MAX_DOCUMENT_BYTES  # the reader stopped near its limit, not at the end
        server.set("ok", competitions_document(pool_size=3 + cycle))
        current = source.current()
        assert current.entries[COMPETITION].pool_size == 3 + cycle and source.last_error is None
        recovered += len(BAD_MODES)
        first = current
    record("competitions", "bad_answers", injected=injected, recovered=recovered, lost=0, double=0, scale=scale,
           slowest_s=round(slowest, 2))


@pytest.mark.parametrize("scale", SCALES)
def test_a_change_takes_effect_at_a_round_boundary(server: DocumentServer, tmp_path: Path, scale: str) -> None:
    """Validator rounds (no models committed, so nothing to evaluate) planned while the document changes."""
    require_assets()
    net = Network(tmp_path, interval=10)
    net.validator("v1")
    flags = net.validator_flags("v1", tmp_path / "state")
    flags.update({"competitions": server.url, "competitions.refresh_s": "0", "round.samples": "2"})
    services = build_services(resolve({k: _coerce(field_for_key(k), v) for k, v in flags.items()}, env={}))
    rounds = 2 if scale == "short" else 6
    try:
        pool_sizes = []
        for i in range(rounds):
            net.chain.advance(10)
            block = net.chain.block()
            runner = RoundRunner(services, sleep=lambda s: None)
            runner.plan(block)
            planned = services.state.round(block)["competitions_sha"]
            # mid-round: a valid document with other limits arrives, and garbage after it
            server.set("ok", competitions_document(pool_size=2 + i, model_size=100_000_000))
            assert services.competitions.current().entries[COMPETITION].pool_size == 2 + i
            server.set("garbage")
            assert runner.run(block)
            row = services.state.round(block)
            assert row["competitions_sha"] == planned and row["state"] == "done"  # this round kept its document
            pool_sizes.append(parse_competitions(json.loads(row["competitions_json"])).entries[COMPETITION].pool_size)
        # round i was planned with the document of round i-1 (the first with the original 7): one round late
        assert pool_sizes == [7] + [2 + i for i in range(rounds - 1)]
        kept = services.competitions.current()  # the garbage is refused; the last valid document stays
        assert kept.entries[COMPETITION].pool_size == 2 + rounds - 1
        assert "not valid JSON" in services.competitions.last_error
    finally:
        services.close()
    record("competitions", "mid_round_change", injected=rounds, recovered=rounds, lost=0, double=0, scale=scale)
