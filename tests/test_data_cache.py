"""The SQLite sample cache: round trips, page records, and two processes writing at once."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3

from node.data import Sample, SampleCache


def _writer(path: str, worker: int, n: int, start) -> None:
    with SampleCache(path) as cache:
        start.wait(timeout=30)  # both processes write at the same time
        for i in range(n):
            samples = [Sample(f"w{worker}:{i}:{j}", f"text {worker} {i} {j}", "test") for j in range(5)]
            cache.put_page(f"page-{worker}-{i}", "test", samples)
            cache.put([Sample("shared", "same text everywhere", "test")])


def test_pages_samples_and_meta_round_trip(tmp_path) -> None:
    path = tmp_path / "cache" / "samples.sqlite"
    with SampleCache(path) as cache:
        assert cache.get_page("p") is None
        cache.put_page("p", "src", [Sample("b", "second", "src"), Sample("a", "first", "src")], fetched_at=5.0)
        cache.put_page("empty", "src", [])
        cache.set_meta("listing", "[1, 2]", updated_at=9.0)
    with SampleCache(path) as cache:  # a restart sees everything
        assert [s.id for s in cache.get_page("p")] == ["b", "a"]  # row order kept
        assert cache.get_page("empty") == []  # fetched but empty is still a hit
        assert cache.get(["a", "zzz"]) == {"a": Sample("a", "first", "src")}
        assert cache.fetched_at("a") == 5.0
        assert cache.get_meta("listing") == ("[1, 2]", 9.0)
        assert cache.stats() == {"samples": 2, "pages": 2}
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_first_writer_wins_for_an_id(tmp_path) -> None:
    with SampleCache(tmp_path / "c.sqlite") as cache:
        cache.put([Sample("x", "original", "s")], fetched_at=1.0)
        cache.put([Sample("x", "changed", "s")], fetched_at=2.0)
        assert cache.get(["x"])["x"].text == "original"
        assert cache.fetched_at("x") == 1.0


def test_two_processes_write_concurrently(tmp_path) -> None:
    path = str(tmp_path / "shared.sqlite")
    SampleCache(path).close()
    ctx = mp.get_context("spawn")
    start = ctx.Barrier(2)
    procs = [ctx.Process(target=_writer, args=(path, w, 200, start)) for w in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]
    with SampleCache(path) as cache:
        assert cache.stats() == {"samples": 2 * 200 * 5 + 1, "pages": 400}
