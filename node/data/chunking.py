"""Cutting long documents into samples.

Why: Wikipedia articles in the offline corpus run to 30k+ characters, news texts to 2k. Scoring
whole articles would make a few documents dominate a round and blow past small models'
context; scoring fixed windows keeps samples comparable and cheap on CPU.

Rule (part of the protocol: changing it changes what a sample id means):
- strip the document; if it fits in `max_chars`, it is one chunk;
- otherwise cut before `max_chars`, preferring the last paragraph break (blank line), then the
  last line break, each only if it falls in the second half of the window, then the last
  space; with no space at all, cut hard at `max_chars`;
- strip whitespace at each cut, so no sample starts or ends with whitespace (SentencePiece-style
  tokenizers cannot round-trip leading spaces);
- chunk k keeps index k even when a chunk is dropped for being shorter than `min_chars`
  (a ragged tail), so ids never shift.
Sample id: `<document id>#<k>`.
"""

from __future__ import annotations

from node.data.sample import Document, Sample

CHUNK_MAX_CHARS = 2000
CHUNK_MIN_CHARS = 200


def _cut_point(window: str) -> int:
    """Where to end a chunk inside a full window (index into the window, > 0)."""
    half = len(window) // 2
    for sep in ("\n\n", "\n"):
        at = window.rfind(sep)
        if at >= half:
            return at
    at = window.rfind(" ")
    return at if at > 0 else len(window)


def chunk_text(text: str, max_chars: int = CHUNK_MAX_CHARS) -> list[str]:
    """All chunks of `text` in order (none dropped; see `chunk_document` for the length filter)."""
    if max_chars < 2:
        raise ValueError("max_chars must be >= 2")
    text = text.strip()
    chunks: list[str] = []
    start = 0
    while start < len(text):
        rest = len(text) - start
        end = len(text) if rest <= max_chars else start + _cut_point(text[start : start + max_chars])
        chunks.append(text[start:end].strip())
        start = end
        while start < len(text) and text[start].isspace():
            start += 1
    return chunks


def chunk_document(doc: Document, max_chars: int = CHUNK_MAX_CHARS, min_chars: int = CHUNK_MIN_CHARS) -> list[Sample]:
    """Samples of one document, ids `<doc id>#<k>`, chunks shorter than `min_chars` dropped."""
    return [
        Sample(id=f"{doc.id}#{k}", text=piece, source=doc.source)
        for k, piece in enumerate(chunk_text(doc.text, max_chars))
        if len(piece) >= min_chars
    ]
