"""`python -m miner <command>`: the miner's command line (each command's code lives in its package)."""

from __future__ import annotations

import argparse
import sys

from miner.experiments.cli import add_experiment_parser
from miner.growth.cli import add_grow_parser, add_verify_parser
from miner.publish.cli import add_publish_parser
from miner.status import add_status_parser
from miner.training.cli import add_train_parser


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m miner")
    sub = parser.add_subparsers(dest="command", required=True)
    add_grow_parser(sub)
    add_verify_parser(sub)
    add_publish_parser(sub)
    add_status_parser(sub)
    add_train_parser(sub)
    add_experiment_parser(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileExistsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
