"""The local model store: size cap, minimum free disk, LRU eviction that never touches a model in use."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from node.hub import TooLargeError
from node.hub.directory import DirectoryHub
from node.hub.store import ModelStore, StoreFullError, model_key
from node.identity import folder_model_hash
from standins import hub_workers

HOTKEY = "5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"
SIZE = 1000  # bytes per test model (weights) plus a tiny config


class CountingHub(DirectoryHub):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.downloads: list[str] = []

    def download(self, repo_id, revision, dest, **kwargs):  # type: ignore[override]
        self.downloads.append(repo_id)
        return super().download(repo_id, revision, dest, **kwargs)


@pytest.fixture
def hub(tmp_path: Path) -> CountingHub:
    return CountingHub(tmp_path / "hub")


def publish(hub: DirectoryHub, tmp_path: Path, name: str, size: int = SIZE) -> tuple[str, str]:
    folder = tmp_path / "src" / name
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(name.encode()[:1] * size)
    return f"team/{name}", hub.upload(f"team/{name}", folder)


def set_last_used(store: ModelStore, repo: tuple[str, str], when: float) -> None:
    os.utime(store.root / "used" / model_key(*repo), (when, when))


def test_fetch_downloads_once_and_matches_the_hub(hub: CountingHub, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store", max_bytes=10 * SIZE)
    repo = publish(hub, tmp_path, "a")
    with store.fetch(hub, *repo) as lease:
        assert lease.held and folder_model_hash(lease.path, HOTKEY) == hub.revision_info(*repo).model_hash(HOTKEY)
    with store.fetch(hub, *repo) as again:
        assert again.path == lease.path
    assert hub.downloads == ["team/a"]
    assert store.lease("team/missing", "0" * 40) is None
    assert [m.key for m in store.models()] == [model_key(*repo)]


def test_lru_eviction_under_the_size_cap(hub: CountingHub, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store", max_bytes=2 * SIZE + 10)
    a, b, c = (publish(hub, tmp_path, n) for n in "abc")
    store.fetch(hub, *a).release()
    store.fetch(hub, *b).release()
    set_last_used(store, a, 2000)  # a used more recently than b
    set_last_used(store, b, 1000)
    store.fetch(hub, *c).release()
    assert sorted(m.key for m in store.models()) == sorted([model_key(*a), model_key(*c)])


def test_models_in_use_are_never_evicted(hub: CountingHub, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store", max_bytes=2 * SIZE + 10)
    a, b, c, d = (publish(hub, tmp_path, n) for n in "abcd")
    held = store.fetch(hub, *a)  # oldest, but in use
    store.fetch(hub, *b).release()
    set_last_used(store, a, 1000)
    set_last_used(store, b, 2000)
    store.fetch(hub, *c).release()  # must evict b, not the older a
    assert sorted(m.key for m in store.models()) == sorted([model_key(*a), model_key(*c)])
    with store.fetch(hub, *c):
        with pytest.raises(StoreFullError):
            store.fetch(hub, *d)  # both residents in use: refused before downloading
    assert "team/d" not in hub.downloads and not any((store.root / "partial").iterdir())
    assert store.delete(*a) is False  # still leased
    held.release()
    assert store.delete(*a) is True and store.lease(*a) is None


def test_minimum_free_disk(hub: CountingHub, tmp_path: Path) -> None:
    def free(_: Path) -> int:
        used = sum(m.size for m in store.models())
        return 5 * SIZE - used  # a small disk that the store shares with nothing else

    store = ModelStore(tmp_path / "store", max_bytes=100 * SIZE, min_free_bytes=3 * SIZE, disk_free=free)
    a, b = (publish(hub, tmp_path, n) for n in "ab")
    store.fetch(hub, *a).release()
    store.fetch(hub, *b).release()  # would leave < 3 models' worth free: a goes
    assert [m.key for m in store.models()] == [model_key(*b)]


def test_too_large_is_refused_without_download(hub: CountingHub, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store", max_bytes=SIZE // 2)
    repo = publish(hub, tmp_path, "big")
    with pytest.raises(StoreFullError):
        store.fetch(hub, *repo)
    with pytest.raises(TooLargeError):
        ModelStore(tmp_path / "s2", max_bytes=10 * SIZE).fetch(hub, *repo, max_bytes=SIZE // 2)
    assert hub.downloads == []


def test_lease_held_by_another_process_lives_and_dies_with_it(hub: CountingHub, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store", max_bytes=SIZE + 10)
    a, b = (publish(hub, tmp_path, n) for n in "ab")
    store.fetch(hub, *a).release()
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    child = ctx.Process(target=hub_workers.hold_lease, args=(str(store.root), *a, ready, stop))
    child.start()
    try:
        assert ready.wait(60)
        with pytest.raises(StoreFullError):
            store.fetch(hub, *b)
        assert store.lease(*a) is not None
    finally:
        child.kill()  # no clean release: the kernel drops the lock with the process
        child.join(30)
    with store.fetch(hub, *b) as lease:
        assert lease.path.is_dir()
    assert [m.key for m in store.models()] == [model_key(*b)]


def test_a_download_killed_mid_file_resumes_and_stores_only_the_model_files(hub: CountingHub, tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store", max_bytes=10 * SIZE)
    repo = publish(hub, tmp_path, "k")
    partial = store.root / "partial" / model_key(*repo)
    partial.mkdir(parents=True)
    (partial / "config.json").write_text("{}")  # a file finished before the kill is kept
    (partial / ".model.safetensors.4242.deadbeef").write_bytes(b"k" * 10)  # the copy the kill interrupted
    with store.fetch(hub, *repo) as lease:
        assert sorted(p.name for p in lease.path.iterdir()) == ["config.json", "model.safetensors"]
        assert folder_model_hash(lease.path, HOTKEY) == hub.revision_info(*repo).model_hash(HOTKEY)


def test_digests_recorded_at_download_are_trusted_only_while_the_files_are_untouched(hub, tmp_path: Path) -> None:
    from node.identity import digests_from_folder

    store = ModelStore(tmp_path / "store", max_bytes=10 * SIZE)
    repo = publish(hub, tmp_path, "d")
    with store.fetch(hub, *repo) as lease:
        assert sorted(store.stored_digests(*repo), key=lambda d: d.name) == \
            sorted(digests_from_folder(lease.path), key=lambda d: d.name)
        (lease.path / "model.safetensors").write_bytes(b"x" * SIZE)  # same size, new bytes and mtime
        assert store.stored_digests(*repo) is None
    assert store.stored_digests("team/never", "1" * 40) is None
