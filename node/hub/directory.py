"""`DirectoryHub`: the embedded default model hub, immutable content-addressed revisions on disk.

Layout under `root`:

    blobs/<sha256[:2]>/<sha256>            file contents, read-only, shared by every revision (deduplicated)
    repos/<namespace>/<name>/<rev>.json    a revision's manifest: [{name, size, sha256}], never rewritten
    repos/<namespace>/<name>/main          the newest revision id (a convenience ref)

The revision id is `sha1(manifest)` over the same `name\\0sha256\\n` lines as the model hash: a 40-hex id
like a git commit sha, equal for equal contents. Blobs appear by atomic rename and manifests by
`os.link` (which refuses to overwrite), so any number of processes can upload and download at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from node.hub.base import HubFile, ModelHub, RevisionInfo
from node.hub.errors import IntegrityError, RevisionNotFoundError
from node.hub.fsutil import copy_hashing, create_once, open_regular_file, temp_path, write_atomic
from node.identity import (
    MODEL_FILE_PATTERNS,
    FileDigest,
    FileNameError,
    check_file_name,
    select_model_files,
    split_repo_id,
)
from node.identity.files import matches
from node.identity.hashing import manifest_bytes, sha256_file
from node.refusal import Refused

_REVISION = re.compile(r"[0-9a-f]{40}", re.ASCII)
_SHA256 = re.compile(r"[0-9a-f]{64}", re.ASCII)
MAX_MANIFEST_BYTES = 4 << 20
MAX_MANIFEST_FILES = 4096
FILE_KEYS = frozenset({"name", "size", "sha256"})


def parse_manifest(data: bytes, revision: str) -> dict[str, HubFile]:
    """A manifest's files, strictly: flat safe names, sizes, lowercase-hex sha256 (the blob path is built from
    it, so anything else could leave the hub root), and a revision id that matches the listed contents."""
    from node.gate.bounded_json import parse_json

    try:
        manifest = parse_json(data, "manifest", max_depth=4)
    except Refused as err:
        raise IntegrityError(f"corrupt manifest: {err.message}") from None
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, list) or not files or len(files) > MAX_MANIFEST_FILES:
        raise IntegrityError(f"manifest of {revision} must list 1..{MAX_MANIFEST_FILES} files")
    listed: dict[str, HubFile] = {}
    for entry in files:
        if not isinstance(entry, dict) or set(entry) != FILE_KEYS:
            raise IntegrityError(f"manifest entry {str(entry)[:80]!r} must have exactly {sorted(FILE_KEYS)}")
        name, size, sha256 = entry["name"], entry["size"], entry["sha256"]
        try:
            check_file_name(name)
        except FileNameError as err:
            raise IntegrityError(f"manifest: {err}") from None
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise IntegrityError(f"manifest: size of {name} is {size!r:.40}, not a byte count")
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
            raise IntegrityError(f"manifest: sha256 of {name} is {str(sha256)[:80]!r}, not 64 lowercase hex digits")
        if name in listed:
            raise IntegrityError(f"manifest lists {name} twice")
        listed[name] = HubFile(name, size, sha256)
    if revision_id(FileDigest(f.name, f.sha256, f.size) for f in listed.values()) != revision:
        raise IntegrityError(f"manifest contents do not hash to its revision id {revision}")
    return listed


def revision_id(files: Iterable[FileDigest]) -> str:
    """sha1 over the model manifest: the directory hub's commit id for these contents."""
    return hashlib.sha1(manifest_bytes(files)).hexdigest()


class DirectoryHub(ModelHub):
    """A model hub in a local (or shared network) folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _repo_dir(self, repo_id: str) -> Path:
        namespace, name = split_repo_id(repo_id)  # PointerError (a ValueError) before any I/O
        return self.root / "repos" / namespace / name

    def _blob(self, sha256: str) -> Path:
        return self.root / "blobs" / sha256[:2] / sha256

    def upload(self, repo_id: str, folder: Path, *, message: str = "Upload model") -> str:
        repo = self._repo_dir(repo_id)
        folder = Path(folder)
        unsafe = sorted(p.name for p in folder.iterdir()
                        if matches(p.name) and (p.is_symlink() or not p.is_file()))
        if unsafe:  # dropping them would publish a revision without, say, its config.json
            raise IntegrityError(f"refusing to upload {folder}: {unsafe[:5]} are symlinks or not regular files")
        try:
            names = select_model_files(p.name for p in folder.iterdir() if p.is_file())
        except FileNameError as err:
            raise IntegrityError(str(err)) from None
        if not names:
            raise IntegrityError(f"{folder} holds no model files")
        digests = [self._store_blob(folder / name) for name in names]
        revision = revision_id(digests)
        manifest = {
            "repo_id": repo_id,
            "revision": revision,
            "message": message,
            "files": [{"name": d.name, "size": d.size, "sha256": d.sha256} for d in digests],
        }
        repo.mkdir(parents=True, exist_ok=True)
        create_once(repo / f"{revision}.json", json.dumps(manifest, indent=1, sort_keys=True).encode())
        write_atomic(repo / "main", revision.encode())
        return revision

    def _store_blob(self, path: Path) -> FileDigest:
        """Copy one file into the blob store (hashing while copying, so hash and bytes agree)."""
        tmp = temp_path(self.root / "tmp", path.name)
        try:
            sha256, size = copy_hashing(path, tmp)
            blob = self._blob(sha256)
            if not blob.exists():
                blob.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(tmp, 0o444)
                os.replace(tmp, blob)  # same bytes if another process won the race
        finally:
            tmp.unlink(missing_ok=True)
        return FileDigest(path.name, sha256, size)

    def latest(self, repo_id: str) -> str:
        """The newest revision uploaded to `repo_id`."""
        try:
            return (self._repo_dir(repo_id) / "main").read_text().strip()
        except FileNotFoundError:
            raise RevisionNotFoundError(f"{repo_id} has no revisions") from None

    def revision_info(
        self, repo_id: str, revision: str, patterns: Iterable[str] = MODEL_FILE_PATTERNS
    ) -> RevisionInfo:
        if not isinstance(revision, str) or not _REVISION.fullmatch(revision):
            raise RevisionNotFoundError(f"revision {str(revision)[:60]!r} is not a 40-hex id")
        path = self._repo_dir(repo_id) / f"{revision}.json"
        try:
            with open_regular_file(path) as handle:
                data = handle.read(MAX_MANIFEST_BYTES + 1)
        except FileNotFoundError:
            raise RevisionNotFoundError(f"{repo_id}@{revision} does not exist") from None
        if len(data) > MAX_MANIFEST_BYTES:
            raise IntegrityError(f"manifest {path} is over {MAX_MANIFEST_BYTES} bytes")
        listed = parse_manifest(data, revision)
        try:
            chosen = select_model_files(listed, patterns)
        except FileNameError as err:
            raise IntegrityError(str(err)) from None
        return RevisionInfo(repo_id, revision, tuple(listed[name] for name in chosen))

    def download(
        self,
        repo_id: str,
        revision: str,
        dest: Path,
        *,
        max_bytes: int | None = None,
        patterns: Iterable[str] = MODEL_FILE_PATTERNS,
        timeout: float | None = None,
    ) -> RevisionInfo:
        info = self.revision_info(repo_id, revision, patterns)
        info.check_size(max_bytes)
        deadline = None if timeout is None else time.monotonic() + timeout
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        for item in info.files:
            target = dest / item.name
            if target.is_file() and target.stat().st_size == item.size and sha256_file(target) == item.sha256:
                continue  # already there from an earlier, interrupted download
            tmp = temp_path(dest, item.name)
            try:
                sha256, size = copy_hashing(self._blob(str(item.sha256)), tmp, deadline=deadline, limit=item.size)
                if (sha256, size) != (item.sha256, item.size):
                    raise IntegrityError(f"blob for {item.name} does not match its manifest")
                os.chmod(tmp, 0o644)
                os.replace(tmp, target)
            except FileNotFoundError:
                raise IntegrityError(f"blob for {item.name} is missing from {self.root}") from None
            finally:
                tmp.unlink(missing_ok=True)
        return info
