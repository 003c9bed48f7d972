"""Training batches: token ids from the training part of the corpus (or FineWeb), and the held-out set.

The batch of a micro-step is a pure function of (seed, step, micro-batch index), where the index of
micro-batch `m` on rank `r` is `r * grad_accum + m`, and row `k` of micro-batch `i` is global row
`i * micro_batch_size + k` of the step. So resuming needs only the step (no data-loader state is
saved), a run on W processes sees exactly the micro-batches one process accumulating W x grad_accum
of them sees, and one process taking the whole batch at once sees the same rows too.

Training text is never held-out text: the corpus stream is `CorpusSource(part="train")`, i.e. the
protocol's hash split by document (`node.data.split`), and every sample is checked against it again.
Samples are tokenised with the same rules as the validator's (`node.data.tokenize_samples`: no special
tokens from the tokenizer's post-processor, EOS after each sample, BOS only if the policy says so) and
concatenated; a sequence is a random window of `seq_len + 1` tokens of that stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from node.data import (
    CorpusSource,
    FineWebSource,
    LoadedTokenizer,
    TokenizerPolicy,
    derive_seed,
    is_heldout,
    tokenize_samples,
)
from node.data.corpus import load_documents
from node.data.sample import Sample
from node.data.tokenizer_files import competition_tokenizer_path, load_tokenizer

from .errors import TrainingRefusalKind, TrainingRefused

MAX_SAMPLE_TOKENS = 1 << 20  # a training sample is never refused for length; the window cuts it


def training_tokenizer(model_dir: str | Path, name: str | None) -> LoadedTokenizer:
    """`name` (a tokenizer.json, a folder, or a competition tokenizer such as `gpt2`), else the model's own."""
    if name is None:
        own = Path(model_dir) / "tokenizer.json"
        if not own.is_file():
            raise TrainingRefused(TrainingRefusalKind.TOKENIZER,
                                  f"{model_dir} ships no tokenizer.json; set `tokenizer` (a file or competition name)")
        return load_tokenizer(own, origin="model")
    return load_tokenizer(competition_tokenizer_path(name), origin="competition")


def tokenize_for_training(samples: list[Sample], tok: LoadedTokenizer, vocab_size: int) -> list[tuple[int, ...]]:
    """Ids per sample under the validator's rules; samples the rules reject are left out (never scored
    either). An id outside the model's vocabulary is an error: that tokenizer cannot train this model."""
    policy = TokenizerPolicy(max_sequence_len=MAX_SAMPLE_TOKENS, append_eos=tok.eos_id is not None)
    batch = tokenize_samples(samples, tok, policy, vocab_size=vocab_size)
    if batch.model_error:
        raise TrainingRefused(TrainingRefusalKind.TOKENIZER, f"tokenizer {tok.path} does not fit the model: "
                              f"{batch.model_error}")
    return [item.ids for item in batch.samples if item.ids]


def heldout_ids(tok: LoadedTokenizer, vocab_size: int, count: int, seed: int,
                corpus_path: str | Path | None = None) -> list[tuple[int, ...]]:
    """Held-out samples tokenised as a validator would (`CorpusSource("heldout")`, default policy):
    `node.evaluation.sample_losses` on these is the number a validator computes for this model."""
    source = CorpusSource(Path(corpus_path) if corpus_path else None, part="heldout")
    policy = TokenizerPolicy(append_eos=tok.eos_id is not None)
    return tokenize_samples(source.samples(seed, count), tok, policy, vocab_size=vocab_size).id_lists()


def window_rows(tokens: np.ndarray, seed: int, step: int, first_row: int, rows: int, width: int) -> torch.Tensor:
    """Rows `first_row .. first_row + rows - 1` of step `step`: each a window of `width` consecutive tokens
    whose start depends only on (seed, step, row). So a micro-batch of 8 rows holds exactly the rows of
    four micro-batches of 2: one process with the whole batch sees what accumulating processes see."""
    if len(tokens) < width:
        raise ValueError(f"the training stream has {len(tokens)} tokens, fewer than one sequence ({width})")
    starts = [int(np.random.default_rng([seed, step, row]).integers(0, len(tokens) - width + 1))
              for row in range(first_row, first_row + rows)]
    return torch.from_numpy(np.stack([tokens[s : s + width] for s in starts]).astype(np.int64))


@dataclass
class CorpusBatches:
    """Windows of the training part of the offline corpus, tokenised once into one stream."""

    tokens: np.ndarray
    seed: int
    batch_size: int
    seq_len: int

    @classmethod
    def build(cls, tok: LoadedTokenizer, vocab_size: int, seed: int, batch_size: int, seq_len: int,
              corpus_path: str | Path | None = None) -> CorpusBatches:
        docs = load_documents(corpus_path) if corpus_path else None
        samples = list(CorpusSource(docs, part="train").all_samples())
        leaked = [s.id for s in samples if is_heldout(s.id.rsplit("#", 1)[0])]
        if leaked:  # cannot happen with CorpusSource(part="train"); checked because it must never happen
            raise AssertionError(f"held-out samples in the training stream: {leaked[:3]}")
        ids = tokenize_for_training(samples, tok, vocab_size)
        stream = np.fromiter((t for sample in ids for t in sample), dtype=np.int32)
        return cls(stream, seed, batch_size, seq_len)

    def batch(self, step: int, index: int) -> torch.Tensor:
        """[batch_size, seq_len + 1] ids of micro-batch `index` of optimiser step `step`."""
        return window_rows(self.tokens, self.seed, step, index * self.batch_size, self.batch_size, self.seq_len + 1)


@dataclass
class FineWebBatches:
    """Rows of FineWeb picked by a seed derived from (seed, step, index), tokenised and packed."""

    source: FineWebSource
    tok: LoadedTokenizer
    vocab_size: int
    seed: int
    batch_size: int
    seq_len: int

    def batch(self, step: int, index: int) -> torch.Tensor:
        width = self.seq_len + 1
        needed = self.batch_size * width
        count = self.batch_size
        for _ in range(8):
            samples = self.source.samples(derive_seed(self.seed, "train", step, index), count)
            ids = tokenize_for_training(samples, self.tok, self.vocab_size)
            stream = np.fromiter((t for sample in ids for t in sample), dtype=np.int64)
            if len(stream) >= needed:
                return torch.from_numpy(stream[:needed].reshape(self.batch_size, width).copy())
            count *= 2
        raise ValueError(f"FineWeb gave fewer than {needed} tokens for step {step}")


def make_batches(data: str, tok: LoadedTokenizer, vocab_size: int, seed: int, batch_size: int, seq_len: int,
                 corpus_path: str | None = None) -> CorpusBatches | FineWebBatches:
    if data == "corpus":
        return CorpusBatches.build(tok, vocab_size, seed, batch_size, seq_len, corpus_path)
    from node.data import SampleCache, default_cache_path

    return FineWebBatches(FineWebSource(cache=SampleCache(default_cache_path())), tok, vocab_size, seed,
                          batch_size, seq_len)
