"""The model hub interface: immutable revisions of flat model folders.

A *revision* is what a miner commits on chain: an immutable snapshot of a repository. Only model files
(`node.identity.files.MODEL_FILE_PATTERNS`, flat) are listed, downloaded and hashed, so the identity a
validator checks is computed over exactly what reaches its disk.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from node.identity import MODEL_FILE_PATTERNS, FileDigest, model_hash

from .errors import TooLargeError


@dataclass(frozen=True)
class HubFile:
    """A file of a revision: name, size in bytes, sha256 (hex) when the hub records one, and the git blob
    id where the hub is git-based (lets regular, non-LFS files be verified too)."""

    name: str
    size: int
    sha256: str | None
    git_oid: str | None = None


@dataclass(frozen=True)
class RevisionInfo:
    """The model files of one revision of `repo_id`."""

    repo_id: str
    revision: str
    files: tuple[HubFile, ...]

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def check_size(self, max_bytes: int | None) -> None:
        """Refuse (before any transfer) a revision whose listed files exceed `max_bytes`."""
        if max_bytes is not None and self.total_size > max_bytes:
            raise TooLargeError(f"{self.repo_id}@{self.revision} is {self.total_size} bytes; limit {max_bytes}")

    @property
    def complete_digests(self) -> bool:
        """True when every file's sha256 is known, so the model hash is computable before download."""
        return all(f.sha256 is not None for f in self.files)

    def digests(self) -> list[FileDigest]:
        """The files as the model hash sees them; `ValueError` if a sha256 is unknown."""
        missing = [f.name for f in self.files if f.sha256 is None]
        if missing:
            raise ValueError(f"sha256 unknown for {missing}")
        return [FileDigest(f.name, f.sha256, f.size) for f in self.files if f.sha256 is not None]

    def model_hash(self, hotkey: str) -> str:
        """The hotkey-bound model hash from metadata alone (see `node.identity.hashing`)."""
        return model_hash(self.digests(), hotkey)


class ModelHub(ABC):
    """Where miners upload and validators download models."""

    @abstractmethod
    def upload(self, repo_id: str, folder: Path, *, message: str = "Upload model") -> str:
        """Publish the model files of `folder` as a new revision whose files are exactly those; returns its id."""

    @abstractmethod
    def revision_info(
        self, repo_id: str, revision: str, patterns: Iterable[str] = MODEL_FILE_PATTERNS
    ) -> RevisionInfo:
        """The revision's model files with sizes and sha256, without downloading the model."""

    @abstractmethod
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
        """Download the revision's model files into `dest` (resuming a partial `dest`).

        Checks `max_bytes` against the listed sizes *before* transferring anything (`TooLargeError`),
        verifies every file, and adds nothing but the model files to `dest`. The returned info carries the
        sha256 of every file as downloaded, so `info.model_hash(hotkey)` is the post-download hash.

        `timeout` is a wall-clock budget in seconds: the directory hub stops copying when it passes; the
        Hugging Face client cannot be interrupted mid-file, so there every request has its own timeout
        (`etag_timeout`, `$HF_HUB_DOWNLOAD_TIMEOUT` per read) and an overrun is reported afterwards.
        """
