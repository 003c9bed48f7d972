"""node.competitions.CompetitionsSource against a real loopback HTTP server and real files."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from node.competitions import (
    CompetitionsError,
    CompetitionsSource,
    bundled_competitions,
    fetch_bytes,
    parse_competitions,
)
from standins.loopback import LoopbackServer

ENTRY = {
    "reward": 1,
    "model_types": ["LlamaForCausalLM"],
    "model_size": 1000,
    "parameters": 100,
    "dataset": "corpus",
    "tokenizer": "gpt2",
}


def document(pool_size: int = 7) -> bytes:
    return json.dumps({"c": {**ENTRY, "pool_size": pool_size}}).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


Route = Callable[[BaseHTTPRequestHandler], None]


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        route = self.server.routes.get(self.path)  # type: ignore[attr-defined]
        self.server.hits[self.path] = self.server.hits.get(self.path, 0) + 1  # type: ignore[attr-defined]
        if route is None:
            self.send_error(404)
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: object) -> None:
        pass


def serve_bytes(body: bytes, content_type: str = "application/json") -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return route


def stream(chunk: bytes, count: int, pause_s: float = 0.0, declared: int | None = None) -> Route:
    """`count` chunks, no Content-Length (unless declared), `pause_s` between them."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if declared is not None:
            handler.send_header("Content-Length", str(declared))
        handler.end_headers()
        for _ in range(count):
            handler.wfile.write(chunk)
            handler.wfile.flush()
            if pause_s:
                time.sleep(pause_s)

    return route


def redirect(location: str) -> Route:
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    with LoopbackServer(_Handler) as loop:
        httpd = loop.http
        httpd.routes = {}  # type: ignore[attr-defined]
        httpd.hits = {}  # type: ignore[attr-defined]
        httpd.url = loop.url  # type: ignore[attr-defined]
        yield httpd


def test_bundled_source() -> None:
    for spec in (None, "bundled"):
        source = CompetitionsSource(spec)
        assert source.kind == "bundled"
        assert source.current() is bundled_competitions()
        assert source.last_error is None


def test_bad_specs() -> None:
    with pytest.raises(CompetitionsError, match="only http"):
        CompetitionsSource("ftp://example.org/c.json")
    with pytest.raises(CompetitionsError, match="only http"):
        CompetitionsSource("file:///etc/passwd")
    with pytest.raises(ValueError):
        CompetitionsSource(None, refresh_s=-1)


def test_url_valid_then_changed_takes_effect_only_on_refresh(server) -> None:
    server.routes["/c.json"] = serve_bytes(document(5))
    clock = Clock()
    source = CompetitionsSource(server.url + "/c.json", refresh_s=60, timeout_s=5, clock=clock)
    assert source.kind == "url"
    first = source.current()
    assert first.get("c").pool_size == 5 and source.last_error is None
    server.routes["/c.json"] = serve_bytes(document(6))
    clock.now += 59
    assert source.current() is first  # not due yet: no request made
    assert server.hits["/c.json"] == 1
    clock.now += 1
    second = source.current()
    assert second.get("c").pool_size == 6 and second.sha256 != first.sha256
    assert server.hits["/c.json"] == 2
    assert source.loaded_at == clock.now


@pytest.mark.parametrize(
    ("route", "fragment"),
    [
        (serve_bytes(b"<html>not json</html>", "text/html"), "not valid JSON"),
        (serve_bytes(json.dumps({"c": {**ENTRY, "pool_size": 0}}).encode()), "competition 'c' key 'pool_size'"),
        (serve_bytes(b"\x00" * 100), "not valid JSON"),
        (stream(b" " * 65536, 40), "body exceeds the 1048576-byte limit"),  # 2.5 MiB, no Content-Length
        (stream(b" ", 1, declared=10**9), "Content-Length 1000000000 exceeds"),
        (None, "HTTP 404"),
        (redirect("ftp://127.0.0.1/c.json"), "refusing a redirect"),  # urllib itself would follow this one
        (redirect("file:///etc/passwd"), "is not allowed"),
    ],
)
def test_url_failures_keep_the_previous_document(server, route, fragment) -> None:
    server.routes["/c.json"] = serve_bytes(document(5))
    clock = Clock()
    source = CompetitionsSource(server.url + "/c.json", refresh_s=10, timeout_s=5, clock=clock)
    good = source.current()
    if route is None:
        del server.routes["/c.json"]
    else:
        server.routes["/c.json"] = route
    clock.now += 10
    assert source.current() is good
    assert fragment in source.last_error
    assert server.hits["/c.json"] == 2
    # and a later good document clears the error
    server.routes["/c.json"] = serve_bytes(document(8))
    clock.now += 10
    assert source.current().get("c").pool_size == 8 and source.last_error is None


def test_slow_body_hits_the_deadline(server) -> None:
    server.routes["/slow"] = stream(b" ", 400, pause_s=0.02)  # a byte every 20 ms for 8 s
    started = time.monotonic()
    with pytest.raises(CompetitionsError, match="not complete within 0.5 s"):
        fetch_bytes(server.url + "/slow", timeout_s=0.5)
    assert time.monotonic() - started < 3


def test_stalled_body_times_out(server) -> None:
    server.routes["/stall"] = stream(b"{", 1, pause_s=5)  # one byte, then nothing for 5 s
    started = time.monotonic()
    with pytest.raises(CompetitionsError, match="[Tt]imeout|timed out"):
        fetch_bytes(server.url + "/stall", timeout_s=0.5)
    assert time.monotonic() - started < 3


def test_redirect_to_http_is_followed(server) -> None:
    server.routes["/c.json"] = serve_bytes(document(4))
    server.routes["/moved"] = redirect(server.url + "/c.json")
    source = CompetitionsSource(server.url + "/moved", timeout_s=5)
    assert source.current().get("c").pool_size == 4


def test_unreachable_first_load_raises_or_uses_fallback(server) -> None:
    url = server.url + "/missing.json"
    clock = Clock()
    source = CompetitionsSource(url, refresh_s=600, timeout_s=5, clock=clock)
    with pytest.raises(CompetitionsError, match="no valid competitions document.*HTTP 404"):
        source.current()
    with pytest.raises(CompetitionsError):
        source.current()  # no document yet: every call tries again, without waiting for refresh_s
    assert server.hits["/missing.json"] == 2
    fallback = bundled_competitions()
    with_fallback = CompetitionsSource(url, timeout_s=5, fallback=fallback)
    assert with_fallback.current() is fallback and "HTTP 404" in with_fallback.last_error
    server.routes["/missing.json"] = serve_bytes(document(3))
    assert source.current().get("c").pool_size == 3  # the first valid document is taken at once


def test_connection_refused() -> None:
    source = CompetitionsSource("http://127.0.0.1:9/c.json", timeout_s=2, fallback=bundled_competitions())
    assert source.current() is bundled_competitions()
    assert "URLError" in source.last_error or "Connection" in source.last_error


def test_file_source(tmp_path) -> None:
    path = tmp_path / "competitions.json"
    path.write_bytes(document(5))
    clock = Clock()
    source = CompetitionsSource(str(path), refresh_s=30, clock=clock)
    assert source.kind == "file"
    first = source.current()
    assert first == parse_competitions(json.loads(document(5)))
    path.write_text("{ broken")  # an edit in progress
    clock.now += 30
    assert source.current() is first and "not valid JSON" in source.last_error
    path.write_bytes(document(6))
    assert source.current() is first  # not due again yet
    clock.now += 30
    assert source.current().get("c").pool_size == 6 and source.last_error is None
    path.unlink()
    clock.now += 30
    assert source.current().get("c").pool_size == 6 and "No such file" in source.last_error
    path.write_bytes(b" " * (2 * 1024 * 1024))
    clock.now += 30
    assert source.current().get("c").pool_size == 6 and "byte limit" in source.last_error
    assert source.refresh() is False


def test_source_refresh_zero_reads_every_time(tmp_path) -> None:
    path = tmp_path / "c.json"
    path.write_bytes(document(5))
    source = CompetitionsSource(path, refresh_s=0)
    assert source.current().get("c").pool_size == 5
    path.write_bytes(document(9))
    assert source.current().get("c").pool_size == 9
