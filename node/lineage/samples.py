"""Token samples for the functional lineage check.

Held-out corpus text tokenised with the parent's own tokenizer when both exist (the check then
measures exactly what validators score); otherwise seeded random token ids, which exercise every
weight just as well for an exactness check and keep the check usable on tokenizer-less toys.
"""

from __future__ import annotations

from pathlib import Path

import torch

DEFAULT_MAX_TOKENS = 256


def corpus_samples(tokenizer_file: Path, corpus: Path, count: int, max_tokens: int = DEFAULT_MAX_TOKENS,
                   vocab_size: int | None = None) -> list[list[int]]:
    """The first `count` held-out documents (node.data split), each cut to `max_tokens` ids."""
    from tokenizers import Tokenizer

    from node.data import heldout_documents, load_documents

    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    out: list[list[int]] = []
    for doc in heldout_documents(load_documents(corpus)):
        ids = tokenizer.encode(doc.text[: max_tokens * 8], add_special_tokens=False).ids[:max_tokens]
        if len(ids) >= 2 and (vocab_size is None or max(ids) < vocab_size):
            out.append(ids)
        if len(out) == count:
            break
    return out


def random_samples(vocab_size: int, count: int, length: int = 64, seed: int = 0) -> list[list[int]]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, vocab_size, (count, length), generator=gen).tolist()


def default_samples(parent_dir: str | Path, vocab_size: int, count: int, max_tokens: int = DEFAULT_MAX_TOKENS,
                    corpus: Path | None = None) -> tuple[list[list[int]], str]:
    """(samples, description of where they came from)."""
    tokenizer_file = Path(parent_dir) / "tokenizer.json"
    if corpus is None:
        from node.assets.layout import AssetLayout

        corpus = AssetLayout.default().corpus
    if tokenizer_file.is_file() and corpus.is_file():
        samples = corpus_samples(tokenizer_file, corpus, count, max_tokens, vocab_size)
        if samples:
            return samples, f"{len(samples)} held-out corpus texts ({corpus.name}, <= {max_tokens} tokens)"
    return random_samples(vocab_size, count, min(max_tokens, 64)), f"{count} seeded random token sequences"
