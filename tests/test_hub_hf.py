"""`HuggingFaceHub` with the real `huggingface_hub` client against a loopback Hub stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.chain.retry import RetryPolicy
from node.hub import HubUnavailableError, IntegrityError, RevisionNotFoundError, TooLargeError
from node.hub.hf import HuggingFaceHub
from node.identity import folder_model_hash
from standins.hub_server import HubServer

HOTKEY = "5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"


@pytest.fixture
def server():
    with HubServer() as srv:
        yield srv


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def hub(server: HubServer, sleeps: list[float]) -> HuggingFaceHub:
    policy = RetryPolicy(attempts=3, base_delay=0.25, jitter=0.0)
    return HuggingFaceHub(endpoint=server.url, token="hf_test", policy=policy, timeout=10, sleep=sleeps.append)


def make_model(folder: Path, weights: bytes = b"\x01" * 4096, extra: dict[str, bytes] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "llama"}')
    (folder / "tokenizer.json").write_text('{"version": "1.0"}')
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "README.md").write_text("not uploaded")
    for name, data in (extra or {}).items():
        (folder / name).write_bytes(data)
    return folder


def test_upload_info_download_and_hashes(hub: HuggingFaceHub, server: HubServer, tmp_path: Path) -> None:
    folder = make_model(tmp_path / "model")
    revision = hub.upload("alice/grown", folder)
    assert len(revision) == 40
    info = hub.revision_info("alice/grown", revision)
    assert [f.name for f in info.files] == ["config.json", "model.safetensors", "tokenizer.json"]
    assert info.total_size == sum((folder / f.name).stat().st_size for f in info.files)
    assert info.files[1].sha256 is not None and info.files[0].sha256 is None  # only LFS files carry sha256
    complete = hub.complete_digests(info)  # fetches the small regular files only
    before = complete.model_hash(HOTKEY)
    assert before == folder_model_hash(folder, HOTKEY)
    assert not any("model.safetensors" in path for _, path in server.requests if "/resolve/" in path)

    dest = tmp_path / "dl"
    after = hub.download("alice/grown", revision, dest, max_bytes=info.total_size)
    assert sorted(p.name for p in dest.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert after.model_hash(HOTKEY) == before == folder_model_hash(dest, HOTKEY)


def test_new_revision_has_exactly_the_new_files(hub: HuggingFaceHub, tmp_path: Path) -> None:
    first = hub.upload("alice/grown", make_model(tmp_path / "a", extra={"model-2.safetensors": b"2" * 10}))
    second = hub.upload("alice/grown", make_model(tmp_path / "b", weights=b"\x02" * 100))
    assert first != second
    assert "model-2.safetensors" in [f.name for f in hub.revision_info("alice/grown", first).files]
    names = [f.name for f in hub.revision_info("alice/grown", second).files]
    assert names == ["config.json", "model.safetensors", "tokenizer.json"]  # stale file deleted
    old = hub.revision_info("alice/grown", first)  # the old revision is untouched
    assert next(f for f in old.files if f.name == "model.safetensors").size == 4096


def test_rate_limits_and_server_errors_are_retried(
    hub: HuggingFaceHub, server: HubServer, sleeps: list[float], tmp_path: Path
) -> None:
    server.fail(r"POST /api/models/.*/commit/", status=500, times=1)
    revision = hub.upload("alice/grown", make_model(tmp_path / "m"))
    server.fail(r"GET /api/models/alice/grown/revision/", status=429, times=2)
    info = hub.revision_info("alice/grown", revision)
    assert len(info.files) == 3
    # The 500 on commit is absorbed by the client's own retry; the 429s on model_info by our backoff.
    assert sleeps == [0.25, 0.5]


def test_download_survives_rate_limiting(hub: HuggingFaceHub, server: HubServer, tmp_path: Path) -> None:
    folder = make_model(tmp_path / "m")
    revision = hub.upload("alice/grown", folder)
    server.fail(r"GET /alice/grown/resolve/[0-9a-f]+/model\.safetensors", status=429, times=1)
    info = hub.download("alice/grown", revision, tmp_path / "dl")
    assert info.model_hash(HOTKEY) == folder_model_hash(folder, HOTKEY)
    statuses = [path for method, path in server.requests if method == "GET" and path.endswith("model.safetensors")]
    assert len(statuses) == 2  # refused once, then served


def test_persistent_outage_is_unavailable_not_missing(hub: HuggingFaceHub, server: HubServer, sleeps) -> None:
    server.fail(r"GET /api/models/", status=503, times=10)
    with pytest.raises(HubUnavailableError):
        hub.revision_info("alice/grown", "0" * 40)
    assert len(sleeps) == 2  # bounded: 3 attempts


def test_missing_repo_and_revision(hub: HuggingFaceHub, tmp_path: Path) -> None:
    with pytest.raises(RevisionNotFoundError):
        hub.revision_info("nobody/nothing", "0" * 40)
    hub.upload("alice/grown", make_model(tmp_path / "m"))
    with pytest.raises(RevisionNotFoundError):
        hub.revision_info("alice/grown", "f" * 40)


def test_byte_limit_refuses_before_any_download(hub: HuggingFaceHub, server: HubServer, tmp_path: Path) -> None:
    revision = hub.upload("alice/grown", make_model(tmp_path / "m"))
    before = len(server.requests)
    with pytest.raises(TooLargeError):
        hub.download("alice/grown", revision, tmp_path / "dl", max_bytes=1000)
    after = server.requests[before:]
    assert all("/resolve/" not in path and "/tree/" not in path for _, path in after)
    assert not (tmp_path / "dl").exists()


def test_interrupted_download_resumes_without_refetching(
    hub: HuggingFaceHub, server: HubServer, tmp_path: Path
) -> None:
    revision = hub.upload("alice/grown", make_model(tmp_path / "m"))
    server.fail(r"GET /alice/grown/resolve/[0-9a-f]+/model\.safetensors", status=500, times=3)
    dest = tmp_path / "dl"
    with pytest.raises(HubUnavailableError):
        hub.download("alice/grown", revision, dest)
    assert (dest / "config.json").is_file() and not (dest / "model.safetensors").exists()
    hub.download("alice/grown", revision, dest)
    gets = [path for method, path in server.requests if method == "GET" and "/resolve/" in path]
    assert sum(path.endswith("/config.json") for path in gets) == 1  # kept from the first attempt
    assert folder_model_hash(dest, HOTKEY) == folder_model_hash(tmp_path / "m", HOTKEY)


@pytest.mark.parametrize("name", ["model.safetensors", "config.json"])
def test_served_bytes_must_match_metadata(hub: HuggingFaceHub, server: HubServer, tmp_path: Path, name: str) -> None:
    folder = make_model(tmp_path / "m")
    revision = hub.upload("alice/grown", folder)
    original = (folder / name).read_bytes()
    server.state.served_instead[name] = bytes([original[0] ^ 1]) + original[1:]  # same size, other bytes
    with pytest.raises(IntegrityError, match=name):
        hub.download("alice/grown", revision, tmp_path / "dl")
