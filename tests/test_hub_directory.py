"""The directory hub: immutable content-addressed revisions, deduplicated blobs, many processes at once."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import stat
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from node.hub import IntegrityError, RevisionNotFoundError, TooLargeError, open_hub
from node.hub.directory import DirectoryHub
from node.identity import PointerError, folder_model_hash
from node.identity.hashing import manifest_bytes
from standins import hub_workers

HOTKEY = "5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"


def make_model(folder: Path, weights: bytes = b"w" * 3000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer_config.json").write_text('{"a": 1}')
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "train.log").write_text("ignored")
    return folder


def test_round_trip_and_hashes(tmp_path: Path) -> None:
    hub = DirectoryHub(tmp_path / "hub")
    folder = make_model(tmp_path / "m")
    revision = hub.upload("alice/grown", folder)
    info = hub.revision_info("alice/grown", revision)
    assert revision == hashlib.sha1(manifest_bytes(info.digests())).hexdigest()
    assert [f.name for f in info.files] == ["config.json", "model.safetensors", "tokenizer_config.json"]
    assert info.complete_digests and info.model_hash(HOTKEY) == folder_model_hash(folder, HOTKEY)
    assert hub.latest("alice/grown") == revision
    downloaded = hub.download("alice/grown", revision, tmp_path / "dl", max_bytes=info.total_size)
    assert sorted(p.name for p in (tmp_path / "dl").iterdir()) == [f.name for f in info.files]
    assert downloaded.model_hash(HOTKEY) == folder_model_hash(tmp_path / "dl", HOTKEY) == info.model_hash(HOTKEY)


def test_revisions_are_immutable_and_deduplicated(tmp_path: Path) -> None:
    hub = DirectoryHub(tmp_path / "hub")
    first = hub.upload("alice/grown", make_model(tmp_path / "a"))
    assert hub.upload("alice/grown", make_model(tmp_path / "a")) == first  # same contents, same id
    (tmp_path / "a" / "config.json").write_text('{"changed": true}')
    second = hub.upload("alice/grown", tmp_path / "a")
    assert second != first and hub.latest("alice/grown") == second
    assert hub.revision_info("alice/grown", first).files[0].size == 2  # the old revision is unchanged
    blobs = [p for p in (tmp_path / "hub" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 4  # 2 configs + 1 weights + 1 tokenizer config: weights stored once
    assert all(not (p.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) for p in blobs)
    manifest = tmp_path / "hub" / "repos" / "alice" / "grown" / f"{first}.json"
    assert json.loads(manifest.read_text())["revision"] == first


def test_byte_limit_checked_before_download(tmp_path: Path) -> None:
    hub = DirectoryHub(tmp_path / "hub")
    revision = hub.upload("alice/grown", make_model(tmp_path / "m"))
    with pytest.raises(TooLargeError):
        hub.download("alice/grown", revision, tmp_path / "dl", max_bytes=100)
    assert not (tmp_path / "dl").exists()


def test_download_resumes_and_repairs(tmp_path: Path) -> None:
    hub = DirectoryHub(tmp_path / "hub")
    folder = make_model(tmp_path / "m")
    revision = hub.upload("alice/grown", folder)
    dest = tmp_path / "dl"
    dest.mkdir()
    (dest / "config.json").write_text("{}")  # complete from an earlier attempt
    (dest / "model.safetensors").write_bytes(b"w" * 100)  # truncated
    before = (dest / "config.json").stat().st_mtime_ns
    hub.download("alice/grown", revision, dest)
    assert (dest / "config.json").stat().st_mtime_ns == before  # kept, not copied again
    assert folder_model_hash(dest, HOTKEY) == folder_model_hash(folder, HOTKEY)


def test_errors(tmp_path: Path) -> None:
    hub = DirectoryHub(tmp_path / "hub")
    with pytest.raises(RevisionNotFoundError):
        hub.revision_info("alice/none", "0" * 40)
    with pytest.raises(RevisionNotFoundError):
        hub.revision_info("alice/none", "main")
    with pytest.raises(PointerError):
        hub.revision_info("../../etc", "0" * 40)
    with pytest.raises(IntegrityError):
        hub.upload("alice/empty", tmp_path)  # no model files
    bad = make_model(tmp_path / "bad")
    (bad / "bad name.json").write_text("{}")
    with pytest.raises(IntegrityError):
        hub.upload("alice/bad", bad)
    revision = hub.upload("alice/ok", make_model(tmp_path / "ok"))
    blob = next(p for p in (tmp_path / "hub" / "blobs").rglob("*") if p.is_file() and p.stat().st_size == 3000)
    os.chmod(blob, 0o644)
    blob.write_bytes(b"x" * 3000)  # bit rot / tampering on the shared disk
    with pytest.raises(IntegrityError):
        hub.download("alice/ok", revision, tmp_path / "dl")


def test_open_hub_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(open_hub(f"directory:{tmp_path}"), DirectoryHub)
    monkeypatch.setenv("SN29_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SN29_HUB", raising=False)
    assert open_hub().root == (tmp_path / "cache" / "hub").resolve()
    assert type(open_hub("hf:http://127.0.0.1:9")).__name__ == "HuggingFaceHub"
    with pytest.raises(ValueError):
        open_hub("ftp")


def test_concurrent_uploads_from_two_processes(tmp_path: Path) -> None:
    root = tmp_path / "hub"
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = [pool.submit(hub_workers.upload_many, str(root), str(tmp_path / "s"), tag, 6) for tag in "ab"]
        results = [f.result(timeout=120) for f in futures]
    assert results[0][:2] == results[1][:2]  # identical uploads raced to the same revision ids
    hub = DirectoryHub(root)
    for revision in {r for revisions in results for r in revisions}:
        info = hub.revision_info("team/shared", revision)
        dest = tmp_path / "check" / revision
        hub.download("team/shared", revision, dest)
        assert folder_model_hash(dest, HOTKEY) == info.model_hash(HOTKEY)
    assert not any((root / "tmp").iterdir())  # no temporary files left behind
