"""The FineWeb rows-API client and source, run for real against a loopback stand-in."""

from __future__ import annotations

import pytest

from node.data import FetchError, FineWebSource, RowsApiClient, SampleCache, plan_page
from standins.fineweb_rows import FineWebRowsStandin, row_text


@pytest.fixture
def api():
    with FineWebRowsStandin() as standin:
        yield standin


def client_for(api: FineWebRowsStandin, **kw) -> RowsApiClient:
    kw.setdefault("sleep", lambda s: None)
    return RowsApiClient(api.endpoint, **kw)


def test_listing_and_rows(api) -> None:
    client = client_for(api)
    splits = client.splits()
    assert [s.config for s in splits] == sorted(api.configs)  # sorted, 'default' dropped
    rows = client.rows("CC-MAIN-2024-18", "train", 440, 100)
    assert [r.index for r in rows] == list(range(440, 450))  # clipped at the end of the split
    assert rows[0].text == row_text("CC-MAIN-2024-18", 440)


def test_same_seed_same_samples_different_seed_different(api, tmp_path) -> None:
    a = FineWebSource(client_for(api), rows_per_page=20).samples(seed=5, count=50)
    b = FineWebSource(client_for(api), SampleCache(tmp_path / "c.sqlite"), rows_per_page=20).samples(5, 50)
    assert len(a) == 50 and [(s.id, s.text) for s in a] == [(s.id, s.text) for s in b]
    assert len({s.id for s in a}) == 50
    config, split, index = a[0].id.split(":")
    assert a[0].text == row_text(config, int(index))
    c = FineWebSource(client_for(api), rows_per_page=20).samples(seed=6, count=50)
    assert {s.id for s in c} != {s.id for s in a}


def test_page_plan_is_uniform_over_valid_starts(api) -> None:
    splits = client_for(api).splits()
    refs = [plan_page(splits, seed=3, k=k, length=100) for k in range(400)]
    assert all(0 <= r.offset <= api.configs[r.config] - r.length for r in refs)
    share = sum(r.config == "CC-MAIN-2024-10" for r in refs) / len(refs)
    assert 0.7 < share < 0.9  # 901 of 1054 valid starts
    assert plan_page(splits, 3, 0, 100) == refs[0]


def test_cache_hit_makes_no_request(api, tmp_path) -> None:
    path = tmp_path / "samples.sqlite"
    first = FineWebSource(client_for(api), SampleCache(path), rows_per_page=25).samples(seed=9, count=60)
    made = sum(api.requests.values())
    assert api.requests["size"] == 1 and api.requests["rows"] >= 3
    again = FineWebSource(client_for(api), SampleCache(path), rows_per_page=25).samples(seed=9, count=60)
    assert again == first
    assert sum(api.requests.values()) == made  # restart: listing and pages from SQLite


def test_429_then_success_backs_off(api) -> None:
    waits: list[float] = []
    api.fail_next(429, times=2, retry_after=1.5)
    api.fail_next(503)
    client = RowsApiClient(api.endpoint, sleep=waits.append, backoff_s=0.5)
    assert client.splits()
    assert waits == [1.5, 1.5, 2.0]  # Retry-After honoured, then exponential backoff
    assert api.requests["size"] == 4


def test_permanent_failure_raises_a_clear_error(api) -> None:
    api.always_status = 503
    client = client_for(api, retries=2)
    with pytest.raises(FetchError, match=r"failed after 3 attempts; last error: HTTP 503"):
        client.rows("CC-MAIN-2024-10", "train", 0, 10)
    assert api.requests["rows"] == 3


def test_client_errors_are_not_retried(api) -> None:
    client = client_for(api)
    with pytest.raises(FetchError, match="HTTP 404 .*not retried"):
        client.rows("no-such-config", "train", 0, 10)
    assert api.requests["rows"] == 1


def test_timeout_is_retried(api) -> None:
    api.delay_next_s = 3.0
    client = client_for(api, timeout_s=0.5)
    assert client.splits()
    assert api.requests["size"] == 2


def test_failing_pages_are_skipped_deterministically(api) -> None:
    source = FineWebSource(client_for(api, retries=0), rows_per_page=10)
    clean = source.samples(seed=21, count=30)
    first = plan_page(source.listing(), 21, 0, 10)
    api.failing_pages.add((first.config, first.offset))
    skipped = source.samples(seed=21, count=30)
    lost = {f"{first.config}:train:{first.offset + i}" for i in range(10)}
    assert lost.isdisjoint(s.id for s in skipped)
    assert skipped[:20] == clean[10:30]  # page 0 lost, pages 1.. move up
    api.always_status = 500  # the listing is still held in memory; every page now fails
    with pytest.raises(FetchError, match="4 pages failed for seed 22"):
        source.samples(seed=22, count=30)


def test_empty_rows_are_dropped_and_cached_as_fetched(api, tmp_path) -> None:
    source = FineWebSource(client_for(api), SampleCache(tmp_path / "c.sqlite"), rows_per_page=10)
    ref = plan_page(source.listing(), 4, 0, 10)
    api.empty_rows.update((ref.config, ref.offset + i) for i in range(10))
    assert source.page(ref) == []
    before = api.requests["rows"]
    assert source.page(ref) == [] and api.requests["rows"] == before
