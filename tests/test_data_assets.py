"""node.data with the real offline assets (corpus and tokenizers); skipped until they are built."""

from __future__ import annotations

import pytest

from node.assets.layout import AssetLayout
from node.data import CorpusSource, TokenizerPolicy, load_documents, tokenize_samples

pytestmark = [
    pytest.mark.assets,
    pytest.mark.skipif(not AssetLayout.default().manifest.is_file(), reason="offline assets not built"),
]


@pytest.fixture(scope="module")
def documents():
    return load_documents(AssetLayout.default().corpus)


def test_real_corpus_splits_and_picks_deterministically(documents) -> None:
    held, train = CorpusSource(documents, "heldout"), CorpusSource(documents, "train")
    assert len(held) >= 50 and len(train) > 2 * len(held)
    assert set(held.ids()).isdisjoint(train.ids())
    pick = held.samples(seed=2024, count=40)
    assert [s.id for s in pick] == [s.id for s in CorpusSource(documents, "heldout").samples(2024, 40)]
    assert [s.id for s in pick] != [s.id for s in held.samples(2025, 40)]


@pytest.mark.parametrize("name", ["cl100k", "gpt2", "phi3"])
def test_real_tokenizers_round_trip_held_out_text(documents, name) -> None:
    policy = TokenizerPolicy(tokenizer=name, cap_sample_len=1500)
    tok = policy.load()
    assert tok.eos_id is not None
    samples = CorpusSource(documents, "heldout").samples(seed=7, count=60)
    batch = tokenize_samples(samples, tok, policy, vocab_size=tok.vocab_size)
    assert batch.model_error is None
    assert batch.counts.get("ok", 0) >= 0.95 * len(samples), batch.counts
    for item in batch.samples:
        if item.ids is not None:
            assert len(item.ids) <= policy.max_sequence_len
            assert (item.ids[-1] == tok.eos_id) != item.capped
