"""Every tokenisation rule, with tiny tokenizers built in tmp_path (no downloads)."""

from __future__ import annotations

import json

import pytest

from node.data import (
    Reason,
    Sample,
    TokenizerError,
    TokenizerPolicy,
    cap_text,
    load_tokenizer,
    tokenize_sample,
    tokenize_samples,
)
from standins.data_helpers import byte_bpe, lossy_wordlevel

TEXT = "Paragraph 0 of document 1 is about rivers.\n\nHello world! Ünïcödé 😀"


@pytest.fixture
def gpt_like(tmp_path):
    """Byte-level BPE with only <|endoftext|> (no BOS), like gpt2/cl100k."""
    return load_tokenizer(byte_bpe(tmp_path / "gpt"))


@pytest.fixture
def llama_like(tmp_path):
    """Byte-level BPE with <s>/</s> named in tokenizer_config.json and a BOS-adding post-processor."""
    path = byte_bpe(
        tmp_path / "llama",
        ("<s>", "</s>", "<unk>"),
        config={"bos_token": "<s>", "eos_token": "</s>"},
        bos_template="<s>",
    )
    return load_tokenizer(path)


def test_cap_cuts_at_the_last_space_before_the_cap() -> None:
    assert cap_text("alpha beta gamma", 12) == ("alpha beta", True)
    assert cap_text("alpha beta gamma", 16) == ("alpha beta gamma", False)
    assert cap_text("alphabetagamma", 5) == ("alpha", True)  # no space: hard cut
    assert cap_text("anything", None) == ("anything", False)


def test_uncapped_sample_gets_eos_and_round_trips(gpt_like) -> None:
    out = tokenize_sample(Sample("s", TEXT, "t"), gpt_like, TokenizerPolicy())
    assert out.reason is None and not out.capped
    assert out.ids[-1] == gpt_like.eos_id == gpt_like.tokenizer.token_to_id("<|endoftext|>")
    assert gpt_like.tokenizer.decode(list(out.ids[:-1])) == TEXT


def test_capped_sample_gets_no_eos(gpt_like) -> None:
    out = tokenize_sample(Sample("s", TEXT, "t"), gpt_like, TokenizerPolicy(cap_sample_len=30))
    assert out.capped and out.reason is None
    assert gpt_like.tokenizer.decode(list(out.ids)) == "Paragraph 0 of document 1 is"
    assert gpt_like.eos_id not in out.ids


def test_bos_rule(gpt_like, llama_like) -> None:
    sample = Sample("s", TEXT, "t")
    plain = tokenize_sample(sample, llama_like, TokenizerPolicy())
    assert plain.ids[0] != llama_like.bos_id  # the post-processor's BOS is never slipped in
    with_bos = tokenize_sample(sample, llama_like, TokenizerPolicy(add_bos=True))
    assert with_bos.ids == (llama_like.bos_id, *plain.ids)
    assert with_bos.ids[-1] == llama_like.eos_id == llama_like.tokenizer.token_to_id("</s>")
    assert gpt_like.bos_id is None  # no BOS token: add_bos changes nothing
    assert tokenize_sample(sample, gpt_like, TokenizerPolicy(add_bos=True)) == tokenize_sample(
        sample, gpt_like, TokenizerPolicy()
    )


def test_round_trip_failure_is_a_reason_not_an_exception(tmp_path) -> None:
    lossy = load_tokenizer(lossy_wordlevel(tmp_path / "wl"), eos_token="</s>")
    out = tokenize_sample(Sample("s", "Hello   world! zebra", "t"), lossy, TokenizerPolicy())
    assert out.ids is None and out.reason is Reason.ROUNDTRIP and "character" in out.detail


def test_too_long_counts_bos_and_eos(gpt_like) -> None:
    sample = Sample("s", TEXT, "t")
    n = len(tokenize_sample(sample, gpt_like, TokenizerPolicy()).ids)
    assert tokenize_sample(sample, gpt_like, TokenizerPolicy(max_sequence_len=n)).reason is None
    out = tokenize_sample(sample, gpt_like, TokenizerPolicy(max_sequence_len=n - 1))
    assert out.ids is None and out.reason is Reason.TOO_LONG


def test_empty_text(gpt_like) -> None:
    assert tokenize_sample(Sample("s", "", "t"), gpt_like, TokenizerPolicy()).reason is Reason.EMPTY


def test_out_of_vocab_is_a_model_error(gpt_like) -> None:
    samples = [Sample("short", "a", "t"), Sample("long", TEXT, "t")]
    ok = tokenize_samples(samples, gpt_like, TokenizerPolicy(), vocab_size=gpt_like.vocab_size)
    assert ok.model_error is None and ok.counts["ok"] == 2
    ids_long = ok.samples[1].ids
    small_vocab = max(ok.samples[0].ids) + 1
    assert max(ids_long) >= small_vocab
    batch = tokenize_samples(samples, gpt_like, TokenizerPolicy(append_eos=False), vocab_size=small_vocab)
    assert batch.samples[0].reason is None
    assert batch.samples[1].reason is Reason.OUT_OF_VOCAB and batch.samples[1].ids is None
    assert "vocab size" in batch.model_error
    assert batch.tokenizer_sha256 == gpt_like.sha256


def test_model_tokenizer_with_many_round_trip_failures_is_disqualified(tmp_path) -> None:
    model_dir = tmp_path / "model"
    lossy_wordlevel(model_dir)
    policy = TokenizerPolicy(tokenizer=str(byte_bpe(tmp_path / "comp")), free_tokenizer=True, eos_token="</s>")
    tok = policy.load(model_dir)
    assert tok.origin == "model"
    samples = [Sample(f"s{i}", f"Hello  world {i}!", "t") for i in range(5)]
    batch = tokenize_samples(samples, tok, policy)
    assert batch.counts["roundtrip"] == 5 and "round trip" in batch.model_error
    three = tokenize_samples(samples[:3], tok, policy)
    assert three.model_error is None  # up to 3 failures tolerated (reference MAX_TOKENIZE_FAILS)


def test_policy_picks_the_tokenizer(tmp_path) -> None:
    comp = byte_bpe(tmp_path / "comp")
    model_dir = tmp_path / "model"
    byte_bpe(model_dir, vocab_size=300)
    assert TokenizerPolicy(tokenizer=str(comp)).load(model_dir).origin == "competition"
    assert TokenizerPolicy(tokenizer=str(comp), free_tokenizer=True).load(model_dir).origin == "model"
    assert TokenizerPolicy(tokenizer=str(comp), free_tokenizer=True).load(tmp_path / "bare").origin == "competition"
    with pytest.raises(TokenizerError, match="names no tokenizer"):
        TokenizerPolicy().load(None)
    with pytest.raises(TokenizerError, match="no EOS"):
        TokenizerPolicy(tokenizer=str(byte_bpe(tmp_path / "noeos", specials=()))).load()


def test_loading_is_bounded_and_json_only(tmp_path) -> None:
    path = byte_bpe(tmp_path / "t")
    with pytest.raises(TokenizerError, match="byte limit"):
        load_tokenizer(path, max_bytes=100)
    bad = tmp_path / "bad" / "tokenizer.json"
    bad.parent.mkdir()
    bad.write_text('{"model": "import os"}')
    with pytest.raises(TokenizerError, match="cannot parse"):
        load_tokenizer(bad)
    with pytest.raises(TokenizerError, match="only tokenizer.json"):
        load_tokenizer(tmp_path / "t" / "tokenizer_config.py")
    with pytest.raises(TokenizerError, match="not in the vocabulary"):
        load_tokenizer(path, eos_token="<nope>")
    assert load_tokenizer(path.parent).path == path  # a folder means its tokenizer.json


def test_asset_names_map_to_the_asset_layout(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SN29_CACHE_DIR", str(tmp_path / "cache"))
    target = tmp_path / "cache" / "assets" / "tokenizers" / "cl100k"
    byte_bpe(target)
    for name in ("cl100k", "Xenova/gpt-4"):
        assert TokenizerPolicy(tokenizer=name).load().path == target / "tokenizer.json"
    with pytest.raises(TokenizerError, match="unknown tokenizer"):
        TokenizerPolicy(tokenizer="someone/remote-repo").load()


def test_policy_from_competition_entry() -> None:
    entry = json.loads('{"tokenizer": "cl100k", "cap_sample_len": 4000, "max_sequence_len": 2048, "reward": 50}')
    policy = TokenizerPolicy.from_competition(entry)
    assert (policy.tokenizer, policy.cap_sample_len, policy.max_sequence_len) == ("cl100k", 4000, 2048)
    assert not policy.free_tokenizer and not policy.add_bos
    assert TokenizerPolicy.from_competition({}).max_sequence_len == 4096
    for bad in ({"cap_sample_len": "4000"}, {"free_tokenizer": 1}, {"tokenizer": 5}, {"cap_sample_len": -1}):
        with pytest.raises(ValueError):
            TokenizerPolicy.from_competition(bad)


def test_batch_hands_the_engine_id_lists(gpt_like) -> None:
    samples = [Sample("ok", TEXT, "t"), Sample("empty", "", "t")]
    batch = tokenize_samples(samples, gpt_like, TokenizerPolicy())
    lists = batch.id_lists()
    assert lists[0] == batch.samples[0].ids and lists[1] == ()  # () scores inf in node.evaluation


def test_native_panic_in_a_model_tokenizer_is_a_reported_refusal(tmp_path):
    """`(a|a)+$` makes onig give up; the Rust side panics with pyo3's PanicException, a BaseException that
    `except Exception` would let abort the whole round."""
    from node.data.sample import Sample
    from node.gate.adversarial.build import minimal_tokenizer_json
    from node.refusal import RefusalKind

    pre = {"type": "Split", "pattern": {"Regex": "(a|a)+$"}, "behavior": "Isolated", "invert": False}
    (tmp_path / "tokenizer.json").write_text(minimal_tokenizer_json(pre_tokenizer=pre))
    policy = TokenizerPolicy(free_tokenizer=True)
    samples = [Sample("hostile", "a" * 3000 + "b", "test"), Sample("fine", "hello world", "test")]
    batch = tokenize_samples(samples, policy.load(tmp_path), policy, vocab_size=96)
    assert batch.samples[0].reason == Reason.ENCODE_ERROR and "PanicException" in batch.samples[0].detail
    assert batch.samples[1].reason != Reason.ENCODE_ERROR  # the rest of the round goes on
    assert batch.refusal().kind == RefusalKind.BAD_TOKENIZER
