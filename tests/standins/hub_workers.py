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
