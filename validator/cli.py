"""`python -m validator <command>` (console script `sn29-validator`): argument parsing only.

Exit codes (the node's convention): 0 success, 1 the command ran and failed, 2 bad usage or settings.
Every setting is a flag named as bittensor names it where bittensor has one (`--wallet.name`); flags given on
the command line override the environment, which overrides the config file (see `validator.settings`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import fields
from typing import Any

from validator.settings import _DOTTED, Settings, SettingsError, resolve

_HELP = {
    "subtensor_network": "embedded[:PATH] (default), finney, test, local, or a ws(s):// URL",
    "subtensor_chain_endpoint": "a ws(s):// endpoint; overrides --subtensor.network",
    "hub": "directory[:PATH] (default) or hf[:ENDPOINT]",
    "competitions": "bundled (default), a JSON file, or an http(s) URL refreshed periodically",
    "offline": "never reach the network: embedded chain, directory hub, bundled or local documents",
    "device": "cpu (default) or cuda[:N]",
    "dont_set_weights": "run everything but the weight write",
    "round_samples": "samples per round (0: 1500 on CUDA, 128 on CPU)",
    "max_rounds": "exit after completing this many rounds (0: run forever)",
    "state_dir": "where the state database and downloaded models live",
    "metrics_port": "serve Prometheus metrics on this port (0: off)",
    "logging_json": "log JSON lines instead of text",
}


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per `Settings` field; defaults are suppressed so only flags actually given are layered on top."""
    for f in fields(Settings):
        name = "--" + _DOTTED.get(f.name, f.name)
        kind = str(f.type)
        extra: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": _HELP.get(f.name)}
        if kind == "bool":
            parser.add_argument(name, action=argparse.BooleanOptionalAction, **extra)
        else:
            convert = {"int": int, "float": float}.get(kind.replace(" | None", ""), str)
            parser.add_argument(name, type=convert, metavar=kind.split(" ")[0].upper(), **extra)
    parser.add_argument("--config", help="YAML or JSON config file (default: $SN29_VALIDATOR_CONFIG)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sn29-validator", description="SN29 validator daemon")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run rounds until stopped")
    add_setting_flags(run)
    status = sub.add_parser("status", help="the leaderboard and last round, from the state database")
    add_setting_flags(status)
    status.add_argument("--json", action="store_true", dest="as_json", help="machine-readable output")
    report = sub.add_parser("report", help="write a self-contained HTML report from the state database")
    add_setting_flags(report)
    report.add_argument("--out", required=True, help="folder to write report.html into")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    names = {f.name for f in fields(Settings)}
    flags = {k: v for k, v in vars(args).items() if k in names}
    return resolve(flags, config=args.config)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from validator.logs import setup_logging

    setup_logging(json_lines=settings.logging_json, debug=settings.logging_debug)
    if args.command == "run":
        from validator.daemon import run_daemon

        code = run_daemon(settings, reload=lambda: settings_from(args))
        # Everything is closed and committed; skip the interpreter's teardown of torch and transformers,
        # which takes seconds and would make a service manager's stop wait for nothing.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    if args.command == "status":
        from validator.status import print_status

        return print_status(settings, as_json=args.as_json)
    if args.command == "report":
        from validator.report import run_report

        return run_report(settings, args.out)
    return 2


if __name__ == "__main__":
    sys.exit(main())
