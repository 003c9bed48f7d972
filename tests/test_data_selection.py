"""Seeds, chunking, the train/held-out split and deterministic corpus picks."""

from __future__ import annotations

import hashlib

import pytest

from node.data import (
    CorpusError,
    CorpusSource,
    Document,
    FineWebSource,
    SampleSource,
    chunk_document,
    chunk_text,
    heldout_documents,
    load_documents,
    part_of,
    seed_from_block_hash,
    select_ids,
    training_documents,
)
from standins.data_helpers import corpus_docs, write_corpus

BLOCK_HASH = "0x" + hashlib.sha256(b"block 1234").hexdigest()


def test_seed_from_block_hash_is_stable_and_strict() -> None:
    a = seed_from_block_hash(BLOCK_HASH)
    assert a == seed_from_block_hash(BLOCK_HASH[2:].upper())  # prefix and case do not matter
    assert 0 <= a < 2**64
    assert a != seed_from_block_hash("0x" + hashlib.sha256(b"block 1235").hexdigest())
    for bad in ("", "0x", "xyz", "abc", "0x" + "g" * 64):
        with pytest.raises(ValueError):
            seed_from_block_hash(bad)


def test_select_ids_is_order_independent_and_seed_dependent() -> None:
    ids = [f"id-{i}" for i in range(200)]
    pick = select_ids(ids, 7, 20)
    assert pick == select_ids(list(reversed(ids)), 7, 20)
    assert len(set(pick)) == 20
    assert pick != select_ids(ids, 8, 20)
    # adding ids never reorders the old ones relative to each other
    grown = select_ids([*ids, *(f"new-{i}" for i in range(50))], 7, 250)
    assert [i for i in grown if i.startswith("id-")][:20] == pick
    assert select_ids(ids, 7, 1000) == select_ids(ids, 7, 200)


def test_chunking_prefers_paragraphs_and_keeps_ids_stable() -> None:
    text = "\n\n".join(f"Para {p} " + "word " * 60 for p in range(10))
    chunks = chunk_text(text, max_chars=800)
    assert all(0 < len(c) <= 800 for c in chunks)
    assert all(c == c.strip() for c in chunks)
    assert all(c.startswith("Para ") for c in chunks)  # cut at paragraph breaks
    assert " ".join(" ".join(chunks).split()) == " ".join(text.split())  # nothing lost but whitespace
    no_space = chunk_text("x" * 2500, max_chars=1000)
    assert [len(c) for c in no_space] == [1000, 1000, 500]
    doc = Document(id="d", text=text + "\n\ntail", source="s")
    samples = chunk_document(doc, max_chars=800, min_chars=50)
    assert [s.id for s in samples] == [f"d#{k}" for k in range(len(samples))]  # tail dropped, ids unchanged
    assert chunk_document(Document(id="short", text="  tiny  "), min_chars=1)[0].text == "tiny"


def test_split_is_disjoint_stable_and_near_the_fraction() -> None:
    docs = [Document(id=d["id"], text=d["text"]) for d in corpus_docs(2000)]
    train, held = training_documents(docs), heldout_documents(docs)
    assert {d.id for d in train}.isdisjoint({d.id for d in held})
    assert len(train) + len(held) == len(docs)
    assert 0.17 < len(held) / len(docs) < 0.23
    # adding documents (and reordering) moves no existing document
    more = [Document(id=d["id"], text=d["text"]) for d in corpus_docs(300, start=5000)]
    held_after = {d.id for d in heldout_documents(list(reversed(docs)) + more)}
    assert {d.id for d in held} == held_after & {d.id for d in docs}
    assert part_of("doc-0001") == part_of("doc-0001")


def test_corpus_source_is_deterministic_and_respects_the_split(tmp_path) -> None:
    path = write_corpus(tmp_path / "corpus.jsonl", corpus_docs(120))
    held = CorpusSource(path, "heldout", min_chars=50)
    train = CorpusSource(path, "train", min_chars=50)
    first = held.samples(seed=11, count=15)
    again = CorpusSource(load_documents(path), "heldout", min_chars=50).samples(seed=11, count=15)
    assert [(s.id, s.text) for s in first] == [(s.id, s.text) for s in again]
    assert [s.id for s in held.samples(seed=12, count=15)] != [s.id for s in first]
    assert set(held.ids()).isdisjoint(train.ids())
    held_docs = {i.rpartition("#")[0] for i in held.ids()}
    assert all(part_of(d) == "heldout" for d in held_docs)
    assert any(s.id.endswith("#2") for s in train.all_samples())  # long docs are chunked
    assert held.get(first[0].id) == first[0]
    assert isinstance(held, SampleSource) and isinstance(FineWebSource(), SampleSource)
    assert len(held.samples(seed=1, count=10_000)) == len(held)


def test_corpus_errors_are_clear(tmp_path) -> None:
    with pytest.raises(CorpusError, match="not found"):
        load_documents(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n')
    with pytest.raises(CorpusError, match="duplicate id"):
        load_documents(bad)
    bad.write_text('{"id": "a", "text": 3}\n')
    with pytest.raises(CorpusError, match=":1: 'text'"):
        load_documents(bad)
    bad.write_text("not json\n")
    with pytest.raises(CorpusError, match="invalid JSON"):
        load_documents(bad)
