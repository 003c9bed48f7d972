"""`ModelStore`: downloaded revisions under a cache folder, bounded in size, evicted least-recently-used.

Layout under `root`:

    models/<namespace>--<name>--<revision>/   complete models only (moved in by one atomic rename)
    partial/<key>/                            downloads in progress; kept across crashes to resume
    locks/<key>.lease                         in-use leases (see `node.hub.leases`)
    locks/<key>.fetch                         one downloader per model across processes
    locks/store.lock                          serialises eviction
    used/<key>                                mtime = last use (the LRU order)

Before a download the store makes room: it evicts the least recently used models until the new one fits
under `max_bytes` and at least `min_free_bytes` stay free on the disk. A model that any process holds a
lease on is never evicted; if the room cannot be made, `StoreFullError` is raised before downloading.
If the disk fills anyway while the files are written (another writer took the space), the partial download is
deleted, so the space comes back at once, and the failure is `StoreFullError` too: transient, retried later.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from node.hub.base import ModelHub
from node.hub.errors import HubError, IntegrityError, TooLargeError
from node.hub.fsutil import file_lock, write_atomic
from node.hub.leases import Lease, release, try_exclusive
from node.identity import FileDigest, split_repo_id
from node.refusal import RefusalKind


class StoreFullError(HubError):
    """The model cannot fit: everything evictable is gone and the rest is in use (or the disk is full)."""

    default_kind = RefusalKind.STORE_FULL


@dataclass(frozen=True)
class StoredModel:
    key: str
    path: Path
    size: int
    last_used: float


def model_key(repo_id: str, revision: str) -> str:
    """`namespace--name--revision`: unambiguous because '--' is not allowed inside repo id segments."""
    namespace, name = split_repo_id(repo_id)
    if not revision.isalnum() or len(revision) > 64:
        raise ValueError(f"unsafe revision {revision[:80]!r}")
    return f"{namespace}--{name}--{revision}"


def _keep_only(folder: Path, names: set[str]) -> None:
    """Remove what a killed earlier download left behind (temporary files) so a stored model holds its files only."""
    for entry in folder.iterdir():
        if entry.name not in names:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


class ModelStore:
    """A size-capped local cache of model revisions shared by the processes of one machine."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_bytes: int,
        min_free_bytes: int = 0,
        disk_free: Callable[[Path], int] | None = None,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.min_free_bytes = min_free_bytes
        self._disk_free = disk_free or (lambda path: shutil.disk_usage(path).free)
        for sub in ("models", "partial", "locks", "used", "trash", "digests"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def _lease_lock(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lease"

    def path(self, repo_id: str, revision: str) -> Path:
        return self.root / "models" / model_key(repo_id, revision)

    def _touch(self, key: str) -> None:
        (self.root / "used" / key).touch()

    def lease(self, repo_id: str, revision: str) -> Lease | None:
        """A lease on the stored model, or None if it is not stored (never downloads)."""
        key = model_key(repo_id, revision)
        lease = Lease(self._lease_lock(key), self.root / "models" / key)
        if not lease.path.is_dir():
            lease.release()
            return None
        self._touch(key)
        return lease

    def fetch(
        self,
        hub: ModelHub,
        repo_id: str,
        revision: str,
        *,
        max_bytes: int | None = None,
        timeout: float | None = None,
    ) -> Lease:
        """A lease on the model, downloading it first if needed (use as `with store.fetch(...) as lease:`)."""
        key = model_key(repo_id, revision)
        lease = Lease(self._lease_lock(key), self.root / "models" / key)  # held before checking: no eviction race
        try:
            if not lease.path.is_dir():
                with file_lock(self.root / "locks" / f"{key}.fetch"):
                    if not lease.path.is_dir():
                        self._download(hub, repo_id, revision, key, max_bytes, timeout)
            self._touch(key)
            return lease
        except BaseException:
            lease.release()
            raise

    def _download(
        self, hub: ModelHub, repo_id: str, revision: str, key: str, max_bytes: int | None, timeout: float | None
    ) -> None:
        info = hub.revision_info(repo_id, revision)
        info.check_size(max_bytes)
        partial = self.root / "partial" / key
        already = _folder_size(partial) if partial.is_dir() else 0
        self.make_room(max(info.total_size - already, 0), keep={key})
        try:
            done = hub.download(repo_id, revision, partial, max_bytes=max_bytes, timeout=timeout)
            _keep_only(partial, {f.name for f in done.files})
            os.rename(partial, self.root / "models" / key)
            self._record_digests(key, done)
        except (TooLargeError, IntegrityError, StoreFullError):
            shutil.rmtree(partial, ignore_errors=True)  # nothing worth resuming, or the disk needs the room
            raise
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            shutil.rmtree(partial, ignore_errors=True)
            self._digests_file(key).unlink(missing_ok=True)
            raise StoreFullError(f"the disk filled while writing {repo_id}@{revision}: {err.strerror}") from None

    def _digests_file(self, key: str) -> Path:
        return self.root / "digests" / f"{key}.json"

    def _record_digests(self, key: str, info) -> None:
        """Remember the sha256 of each file as it was copied, with the file's size and mtime, so later rounds
        need not read hundreds of megabytes again to know the bytes are unchanged."""
        folder = self.root / "models" / key
        entries = []
        for f in info.files:
            if f.sha256 is None:
                return
            st = (folder / f.name).stat()
            entries.append({"name": f.name, "sha256": f.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns})
        write_atomic(self._digests_file(key), json.dumps(entries).encode())

    def stored_digests(self, repo_id: str, revision: str) -> list[FileDigest] | None:
        """The digests recorded at download, if every file is still exactly as written (else None: re-hash)."""
        key = model_key(repo_id, revision)
        folder = self.root / "models" / key
        try:
            entries = json.loads(self._digests_file(key).read_bytes())
            names = {p.name for p in folder.iterdir()}
            if names != {e["name"] for e in entries}:
                return None
            out = []
            for e in entries:
                st = (folder / e["name"]).stat()
                if (st.st_size, st.st_mtime_ns) != (e["size"], e["mtime_ns"]):
                    return None
                out.append(FileDigest(e["name"], e["sha256"], e["size"]))
            return out
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def models(self) -> list[StoredModel]:
        """Stored models, least recently used first."""
        out = []
        for path in (self.root / "models").iterdir():
            used = self.root / "used" / path.name
            last = used.stat().st_mtime if used.exists() else path.stat().st_mtime
            out.append(StoredModel(path.name, path, _folder_size(path), last))
        return sorted(out, key=lambda m: (m.last_used, m.key))

    def make_room(self, needed: int, *, keep: set[str] | frozenset[str] = frozenset()) -> list[str]:
        """Evict LRU models not in use (nor in `keep`) until `needed` more bytes fit; returns evicted keys."""
        if needed > self.max_bytes:
            raise StoreFullError(f"{needed} bytes exceed the store's cap of {self.max_bytes}")
        evicted: list[str] = []
        with file_lock(self.root / "locks" / "store.lock"):
            models = self.models()
            total = sum(m.size for m in models)
            for model in models:
                if self._fits(total, needed):
                    break
                if model.key in keep or not self._evict(model):
                    continue
                total -= model.size
                evicted.append(model.key)
            if not self._fits(total, needed):
                raise StoreFullError(
                    f"need {needed} bytes: store holds {total} of {self.max_bytes}, "
                    f"{self._disk_free(self.root)} free on disk (minimum {self.min_free_bytes}); the rest is in use"
                )
        return evicted

    def _fits(self, total: int, needed: int) -> bool:
        return total + needed <= self.max_bytes and self._disk_free(self.root) - needed >= self.min_free_bytes

    def _evict(self, model: StoredModel) -> bool:
        """Delete one model if no process holds a lease on it."""
        fd = try_exclusive(self._lease_lock(model.key))
        if fd is None:
            return False
        try:
            trash = self.root / "trash" / f"{model.key}.{uuid.uuid4().hex}"
            os.rename(model.path, trash)  # vanishes from models/ atomically, then deleted at leisure
            shutil.rmtree(trash, ignore_errors=True)
            (self.root / "used" / model.key).unlink(missing_ok=True)
            self._digests_file(model.key).unlink(missing_ok=True)
        finally:
            release(fd)
        return True

    def delete(self, repo_id: str, revision: str) -> bool:
        """Remove one stored model now; False if it is absent or in use."""
        key = model_key(repo_id, revision)
        path = self.root / "models" / key
        if not path.is_dir():
            return False
        with file_lock(self.root / "locks" / "store.lock"):
            return self._evict(StoredModel(key, path, 0, 0.0))
