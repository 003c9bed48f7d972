"""`scripts/adversarial_report`: every registered case run and judged, as a table and one summary line."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from node.assets.layout import AssetLayout

from ..limits import GIB
from .registry import all_cases
from .runner import run_cases, summary

STYLE = {"refused_with_reason": "green", "accepted": "green"}


def assets_built() -> bool:
    return (AssetLayout.default().root / "manifest.json").is_file()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-per-case", action="store_true", help="a fresh process for every case (slow)")
    parser.add_argument("--batches", type=int, default=2, help="worker processes the cases are split over")
    parser.add_argument("--address-space-gib", type=float, default=3.0, help="RLIMIT_AS of each worker")
    parser.add_argument("--group", action="append", help="only these groups (repeatable)")
    parser.add_argument("--fast", action="store_true", help="skip the slow cases (those starting processes)")
    args = parser.parse_args(argv)
    cases = [c for c in all_cases().values()
             if (not args.group or c.group in args.group) and (not c.needs_assets or assets_built())
             and not (args.fast and c.slow)]
    results = run_cases(cases, batches=args.batches, one_per_case=args.one_per_case,
                        address_space=int(args.address_space_gib * GIB))
    table = Table(title=f"{len(results)} inputs, hostile and valid")
    for column in ("case", "group", "expected", "got", "seconds", "peak MiB", "outcome"):
        table.add_column(column, justify="right" if column in ("seconds", "peak MiB") else "left")
    for result in results:
        style = STYLE.get(result.outcome, "bold red")
        table.add_row(result.case.name, result.case.group,
                      result.case.expected.value if result.case.expected else "accept", result.got,
                      f"{result.seconds:.3f}", f"{result.peak_bytes / 2**20:.1f}",
                      f"[{style}]{result.outcome}[/{style}]")
    console = Console(width=160)
    console.print(table)
    for result in results:
        if not result.ok:
            console.print(f"[bold red]{result.case.name}[/]: {result.message}", markup=True, highlight=False)
    console.print(summary(results), markup=False, highlight=False)
    return 0 if all(r.ok for r in results) else 1
