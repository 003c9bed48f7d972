"""Held-out data: sample sources, the train/held-out split, deterministic picks, the sample
cache, and the per-competition tokenisation policy that hands token ids to the loss engine.

A validator round, as data: `seed_from_block_hash(block_hash)` -> `source.samples(seed, n)`
-> `policy.load(model_dir)` -> `tokenize_samples(samples, tok, policy, vocab_size)`.
See `node/data/README.md` for the decisions (split fraction, chunking, BOS rule).
"""

from node.data.cache import SampleCache, default_cache_path
from node.data.chunking import CHUNK_MAX_CHARS, CHUNK_MIN_CHARS, chunk_document, chunk_text
from node.data.corpus import CorpusError, CorpusSource, load_documents
from node.data.fineweb import FineWebSource, PageRef, plan_page
from node.data.rows_api import FetchError, RowsApiClient, SplitInfo
from node.data.sample import Document, Sample, SampleSource
from node.data.seeding import derive_seed, seed_from_block_hash, select_ids
from node.data.split import (
    HELDOUT_FRACTION,
    heldout_documents,
    is_heldout,
    part_of,
    training_documents,
)
from node.data.tokenization import (
    Reason,
    TokenizedBatch,
    TokenizedSample,
    TokenizerPolicy,
    cap_text,
    tokenize_sample,
    tokenize_samples,
)
from node.data.tokenizer_files import LoadedTokenizer, TokenizerError, load_tokenizer

__all__ = [
    "CHUNK_MAX_CHARS",
    "CHUNK_MIN_CHARS",
    "HELDOUT_FRACTION",
    "CorpusError",
    "CorpusSource",
    "Document",
    "FetchError",
    "FineWebSource",
    "LoadedTokenizer",
    "PageRef",
    "Reason",
    "RowsApiClient",
    "Sample",
    "SampleCache",
    "SampleSource",
    "SplitInfo",
    "TokenizedBatch",
    "TokenizedSample",
    "TokenizerError",
    "TokenizerPolicy",
    "cap_text",
    "chunk_document",
    "chunk_text",
    "default_cache_path",
    "derive_seed",
    "heldout_documents",
    "is_heldout",
    "load_documents",
    "load_tokenizer",
    "part_of",
    "plan_page",
    "seed_from_block_hash",
    "select_ids",
    "tokenize_sample",
    "tokenize_samples",
    "training_documents",
]
