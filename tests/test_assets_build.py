"""The asset builder's machinery on synthetic sources: downloader, wikitext cleaning, steps, CLI."""


from __future__ import annotations

import bz2
import hashlib
import io
import json
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from asset_sources import FakeSource, NoDownloads
from node.assets.__main__ import main
from node.assets.build import build
from node.assets.corpus import read_corpus
from node.assets.download import Downloader
from node.assets.errors import DownloadError
from node.assets.layout import AssetLayout
from node.assets.sources import ENWIKI_XML, LEE_BACKGROUND, Archive, Member
from node.assets.wikitext import to_prose

MARKUP = ("{{", "}}", "[[", "]]", "<ref", "</ref", "<!--", "&lt;", "&quot;", "'''", "{|", "|}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- a local package index ---------------------------------------------------------------------


class _Index:
    """A PEP 691 index in a thread: `/simple/<project>/` (JSON or HTML) and `/files/<name>`."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.listed_sha: dict[str, str] = {}
        self.html_projects: set[str] = set()
        self.requests: list[str] = []
        index = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                index.requests.append(self.path)
                parts = self.path.strip("/").split("/")
                if parts[0] == "files" and parts[1] in index.files:
                    self._send(200, index.files[parts[1]], "application/octet-stream")
                elif parts[0] == "simple" and len(parts) == 2 and parts[1] in index.projects():
                    self._send(200, *index.page(parts[1], self.headers.get("Accept", "")))
                else:
                    self._send(404, b"not found", "text/plain")

            def _send(self, code: int, body: bytes, ctype: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/simple"

    def projects(self) -> set[str]:
        return {name.split("-")[0] for name in self.files}

    def add(self, filename: str, data: bytes) -> None:
        self.files[filename] = data
        self.listed_sha[filename] = _sha(data)

    def page(self, project: str, accept: str) -> tuple[bytes, str]:
        names = [n for n in self.files if n.split("-")[0] == project]
        if project in self.html_projects or "vnd.pypi.simple.v1+json" not in accept:
            links = "".join(f'<a href="/files/{n}#sha256={self.listed_sha[n]}">{n}</a>' for n in names)
            return f"<html><body>{links}</body></html>".encode(), "text/html"
        files = [{"filename": n, "url": f"/files/{n}", "hashes": {"sha256": self.listed_sha[n]}} for n in names]
        return json.dumps(
            {"meta": {"api-version": "1.1"}, "files": files}
        ).encode(), "application/vnd.pypi.simple.v1+json"


@pytest.fixture
def index() -> Iterator[_Index]:
    served = _Index()
    thread = threading.Thread(target=served.server.serve_forever, daemon=True)
    thread.start()
    yield served
    served.server.shutdown()
    served.server.server_close()


def _wheel(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _sdist(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_downloader_fetches_members_from_wheel_and_sdist_then_uses_cache(index: _Index, tmp_path: Path) -> None:
    data = b"member bytes\n" * 100
    wheel, sdist = _wheel({"pkg/data.txt": data, "pkg/other.py": b"x"}), _sdist({"tpkg-1.0/d/data.txt": data})
    index.add("pkg-1.0-py3-none-any.whl", wheel)
    index.add("tpkg-1.0.tar.gz", sdist)
    members = [
        Member(Archive("pkg", "1.0", "pkg-1.0-py3-none-any.whl", _sha(wheel)), "pkg/data.txt", _sha(data)),
        Member(Archive("tpkg", "1.0", "tpkg-1.0.tar.gz", _sha(sdist)), "tpkg-1.0/d/data.txt", _sha(data)),
    ]
    (tmp_path / "pkg-1.0-py3-none-any.whl.part").write_bytes(b"junk of a killed download")
    downloader = Downloader(tmp_path, index=index.url, progress=False)
    paths = downloader.fetch(members)
    assert [p.read_bytes() for p in paths] == [data, data]
    assert sorted(downloader.fetched_archives) == ["pkg-1.0-py3-none-any.whl", "tpkg-1.0.tar.gz"]
    seen = len(index.requests)
    assert Downloader(tmp_path, index=index.url, progress=False).fetch(members) == paths
    assert len(index.requests) == seen, "a verified cache must not touch the network"
    assert not (tmp_path / "pkg" / "other.py").exists()


def test_downloader_html_fallback(index: _Index, tmp_path: Path) -> None:
    wheel = _wheel({"pkg/data.txt": b"abc"})
    index.add("pkg-2.0-py3-none-any.whl", wheel)
    index.html_projects.add("pkg")
    member = Member(Archive("pkg", "2.0", "pkg-2.0-py3-none-any.whl", _sha(wheel)), "pkg/data.txt", _sha(b"abc"))
    assert Downloader(tmp_path, index=index.url, progress=False).fetch([member])[0].read_bytes() == b"abc"


def test_downloader_rejects_bad_checksums_naming_package_and_file(index: _Index, tmp_path: Path) -> None:
    wheel = _wheel({"pkg/data.txt": b"abc"})
    index.add("pkg-1.0-py3-none-any.whl", wheel)
    archive = Archive("pkg", "1.0", "pkg-1.0-py3-none-any.whl", _sha(wheel))
    quick = {"index": index.url, "progress": False, "backoff": 0.0}

    index.listed_sha["pkg-1.0-py3-none-any.whl"] = "0" * 64  # the index disagrees with the pin
    with pytest.raises(DownloadError, match=r"pkg==1\.0 \(pkg-1\.0-py3-none-any\.whl\).*sha256"):
        Downloader(tmp_path, **quick).fetch([Member(archive, "pkg/data.txt", _sha(b"abc"))])

    index.listed_sha["pkg-1.0-py3-none-any.whl"] = _sha(wheel)
    index.files["pkg-1.0-py3-none-any.whl"] = wheel + b"tampered"  # bytes do not match the hash
    with pytest.raises(DownloadError, match=r"pkg==1\.0 \(pkg-1\.0-py3-none-any\.whl\).*3 attempts"):
        Downloader(tmp_path, **quick).fetch([Member(archive, "pkg/data.txt", _sha(b"abc"))])

    index.files["pkg-1.0-py3-none-any.whl"] = wheel
    with pytest.raises(DownloadError, match=r"member pkg/data\.txt has sha256"):
        Downloader(tmp_path, **quick).fetch([Member(archive, "pkg/data.txt", "1" * 64)])

    missing = Archive("nopkg", "1.0", "nopkg-1.0.tar.gz", "2" * 64)
    with pytest.raises(DownloadError, match=r"nopkg==1\.0.*HTTP 404"):
        Downloader(tmp_path, **quick).fetch([Member(missing, "x", "3" * 64)])


# -- wikitext and the corpus step --------------------------------------------------------------

PAGE = """{{Infobox thing|name={{nested|x}}|image=[[File:X.png|thumb|A [[cap]]]]}}
'''Widget''' is a [[gadget|small device]] used in [[Engineering]]s.<!-- hidden
<ref>no</ref> --><ref name="a">{{cite web|url=http://x}}</ref> It weighs {{convert|5|kg|lb}}.<ref name="a"/>

== History ==
[[Image:Old.jpg|thumb|The [[old]] one [sic]]]
It was made in 1900 by [http://example.com the maker].<br /> See <span>also</span> ''this''.
Widgets are now found in homes, offices and factories, where they quietly do many small jobs.
{| class="wikitable"
|-
| cell || {{flag|X}}
|}
* A listed point about widgets.

== See also ==
* [[Gizmo]]

== References ==
{{reflist}}

[[Category:Devices]]
[[de:Widget]]
"""

PAGE_PROSE = (
    "Widget is a small device used in Engineerings. It weighs 5 kg.\n\n"
    "History\n\n"
    "It was made in 1900 by the maker. See also this. Widgets are now found in homes, offices and factories, "
    "where they quietly do many small jobs.\n\n"
    "A listed point about widgets."
)


def test_to_prose_strips_markup() -> None:
    assert to_prose(PAGE) == PAGE_PROSE


def _xml_page(page_id: int, title: str, text: str, ns: int = 0, redirect: bool = False) -> str:
    from xml.sax.saxutils import escape

    extra = f'<redirect title="{escape(title)}" />' if redirect else ""
    return (
        f"<page><title>{escape(title)}</title><ns>{ns}</ns><id>{page_id}</id>{extra}"
        f'<revision><id>{page_id + 1000}</id><text xml:space="preserve">{escape(text)}</text></revision></page>'
    )


@pytest.fixture
def synthetic_sources(tmp_path: Path) -> FakeSource:
    pages = [
        _xml_page(42, "Widget", PAGE),
        _xml_page(43, "Widgets", "#REDIRECT [[Widget]]", redirect=True),
        _xml_page(44, "Talk:Widget", "A talk page. " * 30, ns=1),
        _xml_page(7, "Stub", "Too short."),
    ]
    xml = f'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">{"".join(pages)}</mediawiki>'
    wiki = tmp_path / "src" / "wiki.xml.bz2"
    wiki.parent.mkdir()
    wiki.write_bytes(bz2.compress(xml.encode()))
    lee = tmp_path / "src" / "lee.cor"
    lines = [f"News text number {i} " + "with  enough words to be kept as a document. " * 5 for i in range(1, 13)]
    lee.write_text("\n".join(lines[:5] + ["short"] + lines[5:]) + "\n", encoding="utf-8")
    return FakeSource({ENWIKI_XML: wiki, LEE_BACKGROUND: lee})


def test_corpus_step_is_deterministic_resumable_and_a_noop_when_done(
    synthetic_sources: FakeSource, tmp_path: Path
) -> None:
    layout = AssetLayout(tmp_path / "root")
    report = build(layout, only=["corpus"], source=synthetic_sources, log=lambda _: None)
    assert report.built == ["corpus"]
    first = layout.corpus.read_bytes()
    docs = read_corpus(layout.corpus)
    assert [d.id for d in docs] == ["enwiki-00000042", *[f"lee-{i:03d}" for i in range(1, 14) if i != 6]]
    assert docs[0].title == "Widget" and docs[0].text == PAGE_PROSE and docs[1].title == ""
    assert docs[1].text.startswith("News text number 1 with enough words")  # whitespace collapsed

    calls = synthetic_sources.calls
    again = build(layout, only=["corpus"], source=NoDownloads(), log=lambda _: None)
    assert [r.action for r in again.results] == ["verified"] and synthetic_sources.calls == calls

    layout.corpus.unlink()  # a killed or pruned root: only the missing step is redone
    rebuilt = build(layout, only=["corpus"], source=synthetic_sources, log=lambda _: None)
    assert [r.action for r in rebuilt.results] == ["rebuilt"]
    assert layout.corpus.read_bytes() == first
    forced = build(layout, only=["corpus"], force=True, source=synthetic_sources, log=lambda _: None)
    assert forced.built == ["corpus"] and layout.corpus.read_bytes() == first
    assert not layout.staging.exists() or not any(layout.staging.iterdir())


def test_failed_step_leaves_nothing_half_written(
    synthetic_sources: FakeSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import node.assets.corpus as corpus_module

    def crash(enwiki: Path, lee: Path, dest: Path) -> dict:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text("partial")
        raise RuntimeError("killed mid-step")

    layout = AssetLayout(tmp_path / "root")
    with monkeypatch.context() as patch:
        patch.setattr(corpus_module, "build_corpus", crash)
        with pytest.raises(RuntimeError, match="killed mid-step"):
            build(layout, only=["corpus"], source=synthetic_sources, log=lambda _: None)
    assert not layout.corpus.exists() and not layout.manifest.exists()
    assert build(layout, only=["corpus"], source=synthetic_sources, log=lambda _: None).built == ["corpus"]


def test_cli_path_and_unknown_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["path", "corpus", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == str(AssetLayout(tmp_path.resolve()).corpus)
    assert main(["path", "tokenizer:cl100k", "--root", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip().endswith("tokenizers/cl100k")
    assert main(["verify", "--root", str(tmp_path)]) == 1
    assert "no assets built" in capsys.readouterr().err
