"""Worker functions for multi-process hub tests (spawn-safe)."""

from __future__ import annotations

from pathlib import Path

from node.hub.directory import DirectoryHub


def upload_many(root: str, scratch: str, tag: str, count: int) -> list[str]:
    """Upload `count` models to one repo; models 0 and 1 are the same for every worker (races on one id)."""
    hub = DirectoryHub(root)
    revisions = []
    for i in range(count):
        folder = Path(scratch) / f"{tag}-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        unique = b"shared" if i < 2 else tag.encode()
        (folder / "config.json").write_text(f'{{"i": {i}}}')
        (folder / "model.safetensors").write_bytes(unique * 5000 + bytes([i]))
        revisions.append(hub.upload("team/shared", folder))
    return revisions


def hold_lease(store_root: str, repo_id: str, revision: str, ready, stop) -> None:
    """Hold a lease on a stored model until `stop` is set (or the process is killed)."""
    from node.hub.store import ModelStore

    store = ModelStore(store_root, max_bytes=1 << 40)
    lease = store.lease(repo_id, revision)
    assert lease is not None
    ready.set()
    stop.wait(60)
    lease.release()
