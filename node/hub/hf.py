"""`HuggingFaceHub`: the production model hub through `huggingface_hub` 2.4.

Calls used: `create_repo(exist_ok=True)`, `upload_folder(...)` (-> `CommitInfo.oid`),
`model_info(revision=, files_metadata=True)` (sizes and LFS sha256), `snapshot_download(revision=,
allow_patterns=, local_dir=)`. Each call is wrapped in bounded exponential backoff for 408/429/5xx and
network errors, on top of the client's own short retries; what is left maps to `node.hub.errors`.

`Retry-After` is honoured within a cap: our backoff waits at least what the server asked (at most the
policy's `max_delay`), and the client's own file-download retries, which sleep for whatever the header says,
see the header clamped to `RETRY_AFTER_CAP_S` by a response hook on the client's shared HTTP session. A disk
that fills while a file is written (ENOSPC, EDQUOT) is the store's failure, not the hub's: `StoreFullError`.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from node.chain.retry import RetryPolicy, call_with_retry
from node.hub.base import HubFile, ModelHub, RevisionInfo
from node.hub.errors import (
    DownloadTimeoutError,
    HubError,
    HubUnavailableError,
    IntegrityError,
    RevisionNotFoundError,
)
from node.hub.store import StoreFullError
from node.identity import MODEL_FILE_PATTERNS, FileNameError, select_model_files, sha256_file, split_repo_id

T = TypeVar("T")
log = logging.getLogger(__name__)
DEFAULT_ENDPOINT = "https://huggingface.co"
TRANSIENT_STATUS = (408, 429, 500, 502, 503, 504)
# Non-LFS files (configs, tokenizer JSON) have no sha256 in Hub metadata; below this size we fetch them
# to complete the digests before the model itself is downloaded.
SMALL_FILE_LIMIT = 16 * 1024 * 1024
DEFAULT_POLICY = RetryPolicy(attempts=5, base_delay=2.0, max_delay=60.0)
RETRY_AFTER_CAP_S = 60  # the longest wait a `Retry-After` header can impose on one retry
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def _chain(err: BaseException | None) -> Iterable[BaseException]:
    seen: set[int] = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def is_transient(err: BaseException) -> bool:
    """429/5xx/408 answers and transport failures anywhere in the exception chain."""
    import httpx2

    for item in _chain(err):
        response = getattr(item, "response", None)
        if getattr(response, "status_code", None) in TRANSIENT_STATUS:
            return True
        if isinstance(item, (httpx2.TransportError, ConnectionError, TimeoutError)):
            return True
    return False


def retry_after_s(err: BaseException) -> float | None:
    """The `Retry-After` seconds of the HTTP answer anywhere in the exception chain (None when absent or a date)."""
    for item in _chain(err):
        response = getattr(item, "response", None)
        value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
        if value is not None and value.strip().isdigit():
            return float(value.strip())
    return None


def disk_full(err: BaseException) -> bool:
    """ENOSPC or EDQUOT anywhere in the exception chain: the local disk, not the hub."""
    return any(isinstance(item, OSError) and item.errno in _DISK_FULL for item in _chain(err))


def _clamp_retry_after(response) -> None:
    """Response hook: a `Retry-After` over the cap is rewritten to the cap before the client's backoff reads it."""
    value = response.headers.get("Retry-After")
    if value is not None and value.strip().isdigit() and int(value.strip()) > RETRY_AFTER_CAP_S:
        response.headers["Retry-After"] = str(RETRY_AFTER_CAP_S)


def _capped_client_factory():
    from huggingface_hub.utils._http import default_client_factory

    client = default_client_factory()
    client.event_hooks["response"] = [*client.event_hooks.get("response", []), _clamp_retry_after]
    return client


_session_capped = False


def _cap_client_retry_after() -> None:
    """Install the clamping hook on the client's shared session once per process (it is process-wide)."""
    global _session_capped
    if not _session_capped:
        from huggingface_hub.utils import _http

        _http.set_client_factory(_capped_client_factory)
        _session_capped = True


def _not_found(err: BaseException) -> bool:
    from huggingface_hub.errors import RepositoryNotFoundError
    from huggingface_hub.errors import RevisionNotFoundError as HfRevisionNotFound

    return any(isinstance(item, (RepositoryNotFoundError, HfRevisionNotFound)) for item in _chain(err))


class HuggingFaceHub(ModelHub):
    """Models on the Hugging Face Hub (or any endpoint speaking its API)."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        from huggingface_hub import HfApi

        _cap_client_retry_after()
        # Resolved now, not at `huggingface_hub` import time, so `$HF_ENDPOINT` set later still counts.
        self.endpoint = (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        self._token = token  # None: the client's usual places ($HF_TOKEN, the saved login)
        self._api = HfApi(endpoint=self.endpoint, token=token)
        self._policy = policy
        self._timeout = timeout
        self._sleep = sleep

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return call_with_retry(fn, policy=self._policy, is_transient=is_transient, what=what, sleep=self._sleep,
                                   wait_hint=retry_after_s)
        except HubError:
            raise
        except Exception as err:
            if disk_full(err):
                raise StoreFullError(f"{what}: the disk is full ({err})") from err
            if _not_found(err):
                raise RevisionNotFoundError(f"{what}: {err}") from err
            if is_transient(err):
                raise HubUnavailableError(f"{what}: {type(err).__name__}: {err}") from err
            raise HubError(f"{what}: {type(err).__name__}: {err}") from err

    def upload(self, repo_id: str, folder: Path, *, message: str = "Upload model") -> str:
        split_repo_id(repo_id)
        folder = Path(folder)
        try:
            names = select_model_files(p.name for p in folder.iterdir() if p.is_file() and not p.is_symlink())
        except FileNameError as err:
            raise IntegrityError(str(err)) from None
        if not names:
            raise IntegrityError(f"{folder} holds no model files")
        self._call("create_repo", lambda: self._api.create_repo(repo_id, repo_type="model", exist_ok=True))
        info = self._call(
            "upload_folder",
            lambda: self._api.upload_folder(
                repo_id=repo_id,
                folder_path=str(folder),
                commit_message=message,
                allow_patterns=names,  # exactly these files...
                delete_patterns=list(MODEL_FILE_PATTERNS),  # ...and no stale model files from older revisions
            ),
        )
        return str(info.oid)

    def revision_info(
        self, repo_id: str, revision: str, patterns: Iterable[str] = MODEL_FILE_PATTERNS
    ) -> RevisionInfo:
        split_repo_id(repo_id)
        info = self._call(
            "model_info",
            lambda: self._api.model_info(repo_id, revision=revision, files_metadata=True, timeout=self._timeout),
        )
        siblings = {s.rfilename: s for s in (info.siblings or [])}
        try:
            chosen = select_model_files(siblings, patterns)
        except FileNameError as err:
            raise IntegrityError(str(err)) from None
        files = []
        for name in chosen:
            sibling = siblings[name]
            if sibling.size is None:
                raise IntegrityError(f"{repo_id}@{revision}: no size for {name}")
            sha256 = sibling.lfs.sha256 if sibling.lfs is not None else None
            files.append(HubFile(name, int(sibling.size), sha256, sibling.blob_id))
        return RevisionInfo(repo_id, str(info.sha or revision), tuple(files))

    def complete_digests(self, info: RevisionInfo) -> RevisionInfo:
        """Fill in sha256 for small non-LFS files by fetching just those, so the model hash can be
        checked before the (large) weights are downloaded."""
        if info.complete_digests:
            return info
        files = []
        with tempfile.TemporaryDirectory(prefix="sn29-meta-") as scratch:
            for item in info.files:
                if item.sha256 is None:
                    if item.size > SMALL_FILE_LIMIT:
                        raise IntegrityError(f"{item.name} is large ({item.size} bytes) but not stored in LFS")
                    path = self._fetch_one(info, item.name, Path(scratch))
                    if item.git_oid is not None and git_blob_id(path) != item.git_oid:
                        raise IntegrityError(f"{item.name} does not match its git blob id")
                    item = HubFile(item.name, item.size, sha256_file(path), item.git_oid)
                files.append(item)
        return RevisionInfo(info.repo_id, info.revision, tuple(files))

    def _fetch_one(self, info: RevisionInfo, name: str, folder: Path) -> Path:
        from huggingface_hub import hf_hub_download

        return Path(
            self._call(
                f"fetch {name}",
                lambda: hf_hub_download(
                    info.repo_id,
                    name,
                    revision=info.revision,
                    local_dir=folder,
                    endpoint=self.endpoint,
                    token=self._token,
                    etag_timeout=self._timeout,
                ),
            )
        )

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
        from huggingface_hub import snapshot_download

        info = self.revision_info(repo_id, revision, patterns)
        info.check_size(max_bytes)
        started = time.monotonic()
        dest = Path(dest)
        self._call(
            "snapshot_download",
            lambda: snapshot_download(
                repo_id,
                revision=info.revision,  # the resolved commit: immutable, no ref lookups
                local_dir=dest,  # a partial `dest` resumes (`.incomplete` files)
                allow_patterns=[f.name for f in info.files],
                endpoint=self.endpoint,
                token=self._token,
                etag_timeout=self._timeout,
            ),
        )
        if timeout is not None and time.monotonic() - started > timeout:
            raise DownloadTimeoutError(f"{repo_id}@{revision} took longer than {timeout}s")
        shutil.rmtree(dest / ".cache", ignore_errors=True)  # the client's resume bookkeeping
        return self._verify(info, dest)

    @staticmethod
    def _verify(info: RevisionInfo, dest: Path) -> RevisionInfo:
        """Check sizes and sha256 (LFS) or git blob ids (regular files) of what arrived."""
        files = []
        for item in info.files:
            path = dest / item.name
            if not path.is_file() or path.stat().st_size != item.size:
                raise IntegrityError(f"{item.name} is missing or has the wrong size after download")
            actual = sha256_file(path)
            if item.sha256 is not None and actual != item.sha256:
                raise IntegrityError(f"{item.name} does not match its sha256")
            if item.sha256 is None and item.git_oid is not None and git_blob_id(path) != item.git_oid:
                raise IntegrityError(f"{item.name} does not match its git blob id")
            files.append(HubFile(item.name, item.size, actual, item.git_oid))
        return RevisionInfo(info.repo_id, info.revision, tuple(files))


def git_blob_id(path: Path) -> str:
    """The git object id of a file: what the Hub reports as `blobId`, for every file."""
    digest = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
