"""`python -m node.competitions [SPEC] [--json]`: check a competitions document before publishing it.

SPEC is `bundled` (default), a local file or an http(s) URL, read exactly as a validator reads it.
Prints the document's canonical sha256 (compare it with another validator's) and one line per
competition, or the reason it is rejected (exit status 1). `--json` prints the canonical document.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from node.competitions.fields import CompetitionsError
from node.competitions.source import CompetitionsSource


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node.competitions", description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="bundled", help="bundled | PATH | http(s)://URL")
    parser.add_argument("--json", action="store_true", help="print the canonical effective document")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds for a URL")
    args = parser.parse_args(argv)
    try:
        document = CompetitionsSource(args.spec, timeout_s=args.timeout).current()
    except CompetitionsError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(document.canonical_json())
        return 0
    print(f"sha256 {document.sha256}")
    for comp in document.entries.values():
        if comp.free_tokenizer:
            tokenizer = f"the model's own, else {comp.tokenizer}" if comp.tokenizer else "the model's own only"
        else:
            tokenizer = str(comp.tokenizer)
        print(
            f"{comp.id}\treward {comp.reward:g}\t{','.join(comp.model_types)}\t{comp.parameters:,} params\t"
            f"{comp.model_size:,} bytes\t{comp.dataset}\ttokenizer {tokenizer}"
        )
    hof = document.hall_of_fame
    print(f"hall_of_fame\t{len(hof.entries)} entries\tmax share {hof.max_share:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
