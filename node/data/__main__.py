"""`python -m node.data ...`: look at what a seed picks, without running a validator.

sample   --seed N | --block-hash HEX  --count K  [--source corpus|fineweb] [--part heldout|train]
split    counts of documents and samples per part of the offline corpus
tokenize --seed N --count K --tokenizer NAME|PATH [--cap C] [--max-len L] [--bos]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from node.data.cache import SampleCache, default_cache_path
from node.data.corpus import CorpusSource, default_corpus_path, load_documents
from node.data.fineweb import FineWebSource
from node.data.rows_api import DEFAULT_ENDPOINT, FINEWEB_EDU_2, RowsApiClient
from node.data.sample import SampleSource
from node.data.seeding import seed_from_block_hash
from node.data.split import PARTS, documents_in
from node.data.tokenization import TokenizerPolicy, tokenize_samples


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m node.data", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("sample", "tokenize"):
        s = sub.add_parser(name)
        seed = s.add_mutually_exclusive_group(required=True)
        seed.add_argument("--seed", type=int)
        seed.add_argument("--block-hash", help="derive the seed as a validator would")
        s.add_argument("--count", type=int, default=10)
        s.add_argument("--source", choices=("corpus", "fineweb"), default="corpus")
        s.add_argument("--part", choices=PARTS, default="heldout")
        s.add_argument("--corpus", help="corpus JSONL (default: the offline asset)")
        s.add_argument("--endpoint", default=DEFAULT_ENDPOINT, help="dataset-viewer API base URL")
        s.add_argument("--dataset", default=FINEWEB_EDU_2)
        s.add_argument("--cache", help="SQLite sample cache (default: in the node cache dir)")
        s.add_argument("--chars", type=int, default=70, help="characters of text to show")
    t = sub.choices["tokenize"]
    t.add_argument("--tokenizer", required=True, help="asset name (cl100k, gpt2, phi3) or tokenizer.json")
    t.add_argument("--cap", type=int, default=None, help="cap_sample_len in characters")
    t.add_argument("--max-len", type=int, default=4096, help="max_sequence_len in tokens")
    t.add_argument("--bos", action="store_true", help="prepend BOS when the tokenizer has one")
    sp = sub.add_parser("split")
    sp.add_argument("--corpus", help="corpus JSONL (default: the offline asset)")
    return p


def _source(args: argparse.Namespace) -> SampleSource:
    if args.source == "fineweb":
        client = RowsApiClient(args.endpoint, args.dataset)
        return FineWebSource(client, SampleCache(args.cache or default_cache_path()))
    return CorpusSource(args.corpus or default_corpus_path(), args.part)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "split":
        docs = load_documents(args.corpus or default_corpus_path())
        for part in PARTS:
            n_samples = len(CorpusSource(docs, part))
            print(f"{part:8s} documents={len(documents_in(docs, part)):5d} samples={n_samples:6d}")
        return 0
    seed = args.seed if args.seed is not None else seed_from_block_hash(args.block_hash)
    samples = _source(args).samples(seed, args.count)
    if args.command == "sample":
        print(f"# seed {seed}: {len(samples)} samples")
        for s in samples:
            preview = s.text[: args.chars].replace("\n", " ")
            print(f"{s.id}\t{len(s.text)}\t{preview}")
        return 0
    policy = TokenizerPolicy(
        tokenizer=args.tokenizer, cap_sample_len=args.cap, max_sequence_len=args.max_len, add_bos=args.bos
    )
    batch = tokenize_samples(samples, policy.load(), policy)
    for t in batch.samples:
        status = f"{len(t.ids)} ids" if t.ids is not None else f"FAIL {t.reason} ({t.detail})"
        print(f"{t.id}\t{'capped ' if t.capped else ''}{status}")
    print(f"# {batch.counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
