"""`python -m devnet` (`scripts/devnet`): the local network in one command, then its leaderboard and report.

Exit codes: 0 the run finished and the four claims hold; 1 it finished (or a phase failed) and a claim does not
hold, which is named; 2 a usage error; 130 interrupted (SIGINT, Ctrl-C) and 143 terminated (SIGTERM), in both
cases after every child process group was stopped.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

from node.paths import cache_dir

from . import commands
from .config import FULL, QUICK, DevnetConfig
from .network import RunFolder
from .processes import ChildFailed, Children
from .story import Story
from .summary import check_claims, summary_lines

REPO_ROOT = Path(__file__).resolve().parents[1]


class Interrupted(Exception):
    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/devnet", description=__doc__.split("\n")[0])
    p.add_argument("--root", type=Path, help="run folder (default: a new <cache>/devnet/<UTC timestamp>)")
    p.add_argument("--quick", action="store_true", help="tiny steps and samples (the test suite's configuration)")
    p.add_argument("--model", type=Path, help="the small trained model to start from, a Llama checkpoint folder "
                   "with its tokenizer.json (default: SmolLM2-135M from the offline assets)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one sizing setting (devnet/config.py), e.g. --set train_steps=20")
    return p


def child_env() -> dict[str, str]:
    """The children import this checkout (its packages and the patched model classes) first."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT), str(REPO_ROOT / "patches")]
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def config_from(args: argparse.Namespace) -> DevnetConfig:
    return (QUICK if args.quick else FULL).with_settings(args.set)


def _raise_interrupted(signum: int, _frame: object) -> None:
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.model is not None and not all((args.model / f).is_file() for f in ("config.json", "tokenizer.json")):
        print(f"error: --model {args.model} must be a checkpoint folder with config.json and tokenizer.json",
              file=sys.stderr)
        return 2
    root = args.root or cache_dir() / "devnet" / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    if root.exists() and any(root.iterdir()):
        print(f"error: {root} is not empty (a devnet run starts from a fresh folder)", file=sys.stderr)
        return 2
    run = RunFolder(root.resolve())
    children = Children(run.logs, child_env(), REPO_ROOT, config.stop_timeout_s)
    story = Story(run, config, children, say=lambda line: print(line, flush=True), start_model=args.model)
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        story.run_all()
        story.phase = "leaderboard and report"
        return finish(story)
    except Interrupted as stop:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        stopped = children.stop_all()
        print(f"\ninterrupted ({stop}) during '{story.phase}' after {time.monotonic() - story.started:.0f} s; "
              f"stopped {', '.join(stopped) or 'no running process'}; run folder {run.root}", flush=True)
        return 128 + stop.signum
    except (ChildFailed, TimeoutError) as err:
        children.stop_all()
        print(f"\nFAILED during '{story.phase}': {err}\nrun folder {run.root}", flush=True)
        return 1
    finally:
        children.stop_all()
        for s, handler in previous.items():
            signal.signal(s, handler)


def finish(story: Story) -> int:
    """Leaderboard, report, the four claims; 0 only when all hold."""
    run, children = story.run, story.children
    _, board = children.run("status", commands.status(run))
    print("\n" + board.rstrip())
    children.run("report", commands.report(run))
    print(f"\nreport: {run.report / 'report.html'}   logs: {run.logs}")
    claims = check_claims(story)
    for line in summary_lines(claims):
        print(line)
    print(f"total {time.monotonic() - story.started:.0f} s")
    return 0 if all(c.ok for c in claims) else 1


if __name__ == "__main__":
    sys.exit(main())
