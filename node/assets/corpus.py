"""The offline text corpus: Wikipedia articles and news texts from gensim's test data, as JSON lines.

Validators sample held-out text by hashing document ids with a block seed, so two machines must
produce the same file byte for byte: ids come from the sources (page id, line number), documents are
sorted by id, and the JSON encoding is fixed (key order, separators, UTF-8 without escapes).
"""

from __future__ import annotations

import bz2
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from node.assets.fsutil import write_bytes_atomic
from node.assets.wikitext import to_prose

ENWIKI_SOURCE = "enwiki"
LEE_SOURCE = "lee"
MIN_DOC_CHARS = 200  # below this a "document" is a stub or a leftover of removed markup
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CorpusDoc:
    """One line of the corpus file."""

    id: str
    source: str
    title: str
    text: str

    def to_json(self) -> str:
        record = {"id": self.id, "source": self.source, "title": self.title, "text": self.text}
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def enwiki_documents(path: Path) -> Iterator[CorpusDoc]:
    """Main-namespace, non-redirect pages of a MediaWiki XML dump (bz2), streamed page by page."""
    with bz2.open(path, "rb") as stream:
        for _, elem in ET.iterparse(stream, events=("end",)):
            if _local(elem.tag) != "page":
                continue
            fields = {_local(child.tag): child for child in elem}
            revision = fields.get("revision")
            text_elem = None if revision is None else next((c for c in revision if _local(c.tag) == "text"), None)
            is_article = fields["ns"].text == "0" and "redirect" not in fields
            if is_article and text_elem is not None:
                page_id = int(fields["id"].text or "0")
                yield CorpusDoc(
                    id=f"{ENWIKI_SOURCE}-{page_id:08d}",
                    source=ENWIKI_SOURCE,
                    title=(fields["title"].text or "").strip(),
                    text=to_prose(text_elem.text or ""),
                )
            elem.clear()


def lee_documents(path: Path) -> Iterator[CorpusDoc]:
    """The Lee background corpus: one news text per line; ids carry the 1-based line number."""
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            text = _WHITESPACE.sub(" ", line).strip()
            yield CorpusDoc(id=f"{LEE_SOURCE}-{lineno:03d}", source=LEE_SOURCE, title="", text=text)


def select(docs: Iterable[CorpusDoc]) -> list[CorpusDoc]:
    """Drop too-short documents, check ids are unique, sort by id."""
    kept = sorted((d for d in docs if len(d.text) >= MIN_DOC_CHARS), key=lambda d: d.id)
    for a, b in zip(kept, kept[1:], strict=False):
        if a.id == b.id:
            raise ValueError(f"duplicate corpus id {a.id!r}")
    return kept


def render(docs: Iterable[CorpusDoc]) -> bytes:
    """The exact bytes of the corpus file."""
    return "".join(d.to_json() + "\n" for d in docs).encode("utf-8")


def build_corpus(enwiki_xml_bz2: Path, lee_cor: Path, dest: Path) -> dict[str, int]:
    """Write the corpus file atomically; returns counts for the manifest."""
    docs = select([*enwiki_documents(enwiki_xml_bz2), *lee_documents(lee_cor)])
    write_bytes_atomic(dest, render(docs))
    counts = {"documents": len(docs), "characters": sum(len(d.text) for d in docs)}
    for source in (ENWIKI_SOURCE, LEE_SOURCE):
        counts[f"{source}_documents"] = sum(d.source == source for d in docs)
    return counts


def read_corpus(path: Path) -> list[CorpusDoc]:
    """Documents of a corpus file (the builder's own reader: checks use it on their sample texts)."""
    with path.open(encoding="utf-8") as fh:
        return [CorpusDoc(**json.loads(line)) for line in fh if line.strip()]
