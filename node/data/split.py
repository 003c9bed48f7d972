"""The one-time split of the offline corpus into a training part and a held-out part.

Why by hash of the document id: a document's side must never depend on what else is in the
corpus, its order, or the Python version, so that adding documents (a rebuilt or grown corpus)
never moves an existing document from held-out to training or back. Why by document and not by
chunk: chunks of one article share names and phrasing, so a chunk-level split would leak
held-out text into training.

Fraction: 20% held-out, 80% training. The offline corpus is small (~400 documents, ~1.5k
chunks); 20% gives a few hundred held-out samples, enough for rounds of 50-300 samples with
varying picks, while leaving miners most of the text to train on. Changing the fraction or the
salt is a protocol change: every node must agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Literal

from node.data.sample import Document

HELDOUT_FRACTION = 0.2
SPLIT_SALT = "sn29/split/v1"

Part = Literal["train", "heldout"]
PARTS: tuple[Part, ...] = ("train", "heldout")


def split_value(doc_id: str, salt: str = SPLIT_SALT) -> float:
    """A uniform number in [0, 1) fixed forever by the document id."""
    digest = hashlib.sha256(f"{salt}\x1f{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def part_of(doc_id: str, heldout_fraction: float = HELDOUT_FRACTION, salt: str = SPLIT_SALT) -> Part:
    """Which part a document id belongs to."""
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError("heldout_fraction must be in (0, 1)")
    return "heldout" if split_value(doc_id, salt) < heldout_fraction else "train"


def is_heldout(doc_id: str, heldout_fraction: float = HELDOUT_FRACTION) -> bool:
    """True when validators may evaluate on this document (miners must not train on it)."""
    return part_of(doc_id, heldout_fraction) == "heldout"


def documents_in(docs: Iterable[Document], part: Part, heldout_fraction: float = HELDOUT_FRACTION) -> list[Document]:
    """The documents of one part, in input order."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; expected one of {PARTS}")
    return [d for d in docs if part_of(d.id, heldout_fraction) == part]


def training_documents(docs: Iterable[Document], heldout_fraction: float = HELDOUT_FRACTION) -> list[Document]:
    """What miners may train on."""
    return documents_in(docs, "train", heldout_fraction)


def heldout_documents(docs: Iterable[Document], heldout_fraction: float = HELDOUT_FRACTION) -> list[Document]:
    """What validators evaluate on."""
    return documents_in(docs, "heldout", heldout_fraction)
