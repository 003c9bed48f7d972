"""Tiny training fixtures: a synthetic corpus file, a byte-level BPE tokenizer trained on it, a tiny model.

Small enough that a training step takes milliseconds, real enough that every component runs: the
corpus goes through the protocol's split and chunking, the tokenizer through the validator's rules.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from tiny_models import tiny_model

VOCAB = 320  # 256 bytes + 3 special tokens + a few merges
WORDS = ("the model grows wider and deeper while the loss stays the same until training moves new "
         "blocks miners publish checkpoints validators score held out text every round").split()


def write_corpus(path: Path, documents: int = 60, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w") as handle:
        for k in range(documents):
            paragraphs = ["\n".join(" ".join(rng.choice(WORDS) for _ in range(12)) for _ in range(4))
                          for _ in range(3)]
            handle.write(json.dumps({"id": f"doc-{k}", "title": f"t{k}", "text": "\n\n".join(paragraphs)}) + "\n")
    return path


def train_tokenizer(corpus: Path) -> Tokenizer:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<pad>", "<s>", "<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines()]
    tokenizer.train_from_iterator(texts, trainer)
    return tokenizer


def tiny_setup(root: Path, family: str = "llama", **overrides) -> tuple[Path, Path]:
    """(model folder with tokenizer.json, corpus file) under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = write_corpus(root / "corpus.jsonl")
    model_dir = root / "model"
    tiny_model(family, vocab_size=VOCAB, **overrides).save_pretrained(model_dir)
    train_tokenizer(corpus).save(str(model_dir / "tokenizer.json"))
    return model_dir, corpus
