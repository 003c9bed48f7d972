"""Test helpers for node.data: a small corpus file and tiny tokenizers built in a temp dir.

The tokenizers are built with the `tokenizers` library itself (no downloads) and saved as
`tokenizer.json`, so the code under test loads them exactly as it loads real ones.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

TOPICS = ["rivers", "volcanoes", "libraries", "bridges", "comets", "forests", "engines", "harbours"]


def doc_text(i: int, paragraphs: int) -> str:
    """Deterministic multi-paragraph English-ish text for document i."""
    topic = TOPICS[i % len(TOPICS)]
    paras = []
    for p in range(paragraphs):
        sentence = f"Paragraph {p} of document {i} is about {topic} and how people study {topic} over time."
        paras.append(" ".join([sentence] * (3 + (i + p) % 4)))
    return "\n\n".join(paras)


def corpus_docs(n: int, start: int = 0) -> list[dict[str, str]]:
    """n corpus lines; every 5th document is long enough to be cut into several chunks."""
    return [
        {"id": f"doc-{i:04d}", "source": "test", "title": f"Doc {i}", "text": doc_text(i, 12 if i % 5 == 0 else 2)}
        for i in range(start, start + n)
    ]


def write_corpus(path: Path, docs: list[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


TRAIN_TEXT = [doc_text(i, 2) for i in range(8)] + ["Hello world! Ünïcödé, emoji 😀, tabs\tand\nnewlines."]


def byte_bpe(
    folder: Path,
    specials: tuple[str, ...] = ("<|endoftext|>",),
    vocab_size: int = 400,
    config: dict[str, str] | None = None,
    bos_template: str | None = None,
) -> Path:
    """A GPT-2-style byte-level BPE: round-trips any text exactly. Returns tokenizer.json."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAIN_TEXT, trainer)
    if bos_template is not None:  # a post-processor that would inject BOS if allowed to
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos_template} $A", special_tokens=[(bos_template, tok.token_to_id(bos_template))]
        )
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    if config is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder / "tokenizer.json"


def lossy_wordlevel(folder: Path) -> Path:
    """A whitespace WordLevel tokenizer: decoding loses spacing and unknown words (round trip fails)."""
    vocab = {"[UNK]": 0, "</s>": 1}
    for text in TRAIN_TEXT:
        for word in text.split():
            vocab.setdefault(word, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return folder / "tokenizer.json"
