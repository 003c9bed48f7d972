"""`scripts/fault_report`: run the fault and load suites, then print what they injected and what survived.

It lives with the tests, not in `validator/` or `node/`: it runs pytest over test files and reads the tallies
`tests/fault_record.py` writes, so an installed node never depends on it (and the test files it needs are
only in a checkout). Steps:
1. run `pytest -m slow -k full tests/test_faults_*.py tests/test_load.py` (`--short`: `-k short`, the
   default run's scale) with `$SN29_FAULT_RECORD_DIR` set to a fresh folder (`--records DIR` skips this
   and reads DIR);
2. read every `<group>.jsonl` there and print one rich table row per record (fault, scale, times injected,
   recovered, data lost, double counts, the other figures), per group;
3. end with one line: injected per group (`kills=`, `hub_faults=`, ...; `n/a` for a group with no records,
   e.g. a suite not on this branch), recovered / lost / double overall, then the consensus and load figures.
Exit status: 0 only when pytest passed and nothing was lost or counted twice.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
RECORD_DIR_ENV = "SN29_FAULT_RECORD_DIR"  # the same name tests/fault_record.py reads
GROUPS = ("kill", "consensus", "hub", "disk", "competitions", "chain", "eval", "load")
COUNTED = ("group", "fault", "scale", "injected", "recovered", "lost", "double")
# Figures the summary line carries, and how rows combine: the worst value over every record that has it.
LOAD_FIGURES = (("rss_peak_mb", max), ("rss_growth_mb", max), ("slope_s", max), ("worst_dev", max), ("db_mb", max))


class RecordError(ValueError):
    """A tally file that is not one JSON object per line with the counted fields."""


@dataclass(frozen=True)
class Summary:
    injected: dict[str, int | None]  # per group; None when the group has no records
    recovered: int
    lost: int
    double: int
    figures: dict[str, float | None] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.lost == 0 and self.double == 0


def read_records(folder: Path) -> list[dict]:
    """Every record under `folder` (`*.jsonl`), in group order then file order."""
    rows: list[dict] = []
    order = {g: i for i, g in enumerate(GROUPS)}
    for path in sorted(folder.glob("*.jsonl"), key=lambda p: (order.get(p.stem, len(order)), p.stem)):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise RecordError(f"{path.name}:{number}: not JSON ({err.msg})") from None
            if not isinstance(row, dict) or any(key not in row for key in COUNTED):
                raise RecordError(f"{path.name}:{number}: a record needs {', '.join(COUNTED)}")
            rows.append(row)
    return rows


def _numbers(rows: Iterable[dict], key: str) -> list[float]:
    return [float(r[key]) for r in rows if isinstance(r.get(key), (int, float)) and not isinstance(r[key], bool)]


def is_total(row: dict) -> bool:
    """A suite's own summary row ("all", "... total"), which repeats its per-fault rows' counts."""
    return row["fault"] == "all" or str(row["fault"]).endswith(" total")


def counted(rows: Sequence[dict]) -> list[dict]:
    """The rows whose counts are summed: a suite's total row where it wrote one, else its per-fault rows."""
    totals = {(r["group"], r["scale"]) for r in rows if is_total(r)}
    return [r for r in rows if is_total(r) or (r["group"], r["scale"]) not in totals]


def summarize(rows: Sequence[dict]) -> Summary:
    shown, rows = rows, counted(rows)
    groups = list(GROUPS) + sorted({r["group"] for r in rows} - set(GROUPS))
    injected = {g: (sum(int(r["injected"]) for r in rows if r["group"] == g)
                    if any(r["group"] == g for r in rows) else None) for g in groups}
    cosines = _numbers(shown, "cosine_min")
    figures: dict[str, float | None] = {"cosine_min": min(cosines) if cosines else None}
    load = [r for r in shown if r["group"] == "load"]
    for key, combine in LOAD_FIGURES:
        values = _numbers(load, key)
        figures[key] = combine(values) if values else None
    return Summary(injected, sum(int(r["recovered"]) for r in rows), sum(int(r["lost"]) for r in rows),
                   sum(int(r["double"]) for r in rows), figures)


def _key(group: str) -> str:
    return {"kill": "kills", "load": "load_rounds"}.get(group, f"{group}_faults")


def _show(value: object) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def summary_line(summary: Summary) -> str:
    parts = [f"{_key(g)}={_show(n)}" for g, n in summary.injected.items()]
    parts += [f"recovered={summary.recovered}", f"lost={summary.lost}", f"double={summary.double}"]
    parts += [f"{k}={_show(v)}" for k, v in summary.figures.items()]
    return " ".join(parts)


def _figures_text(row: dict) -> str:
    """The record's own figures, scalars only (per-round lists stay in the jsonl)."""
    return " ".join(f"{k}={_show(v)}" for k, v in sorted(row.items())
                    if k not in COUNTED and (v is None or isinstance(v, (int, float, str))))


def render(rows: Sequence[dict], summary: Summary, console: Console) -> None:
    table = Table(title="Faults injected and what survived", show_lines=False)
    for name, justify in (("group", "left"), ("fault", "left"), ("scale", "left"), ("injected", "right"),
                          ("recovered", "right"), ("lost", "right"), ("double", "right"), ("figures", "left")):
        table.add_column(name, justify=justify, overflow="fold")
    for group, count in summary.injected.items():
        mine = [r for r in rows if r["group"] == group]
        if count is None:
            table.add_row(group, "n/a (no records)", "", "n/a", "n/a", "n/a", "n/a", "")
        for r in mine:
            table.add_row(group, str(r["fault"]), str(r["scale"]), str(r["injected"]), str(r["recovered"]),
                          str(r["lost"]), str(r["double"]), _figures_text(r),
                          style="bold red" if r["lost"] or r["double"] else None)
    console.print(table)


def suite_files(tests: Path = TESTS) -> list[Path]:
    return sorted(tests.glob("test_faults_*.py")) + [p for p in [tests / "test_load.py"] if p.exists()]


def suite_command(short: bool, files: Sequence[Path]) -> list[str]:
    selection = ["-k", "short"] if short else ["-m", "slow", "-k", "full"]
    return [sys.executable, "-m", "pytest", "-q", *selection, *[str(p) for p in files]]


def exit_status(pytest_code: int | None, summary: Summary) -> int:
    """0 only for a passing run (or no run: `--records`) where nothing was lost or counted twice."""
    if pytest_code not in (None, 0):
        return 1
    return 0 if summary.clean else 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fault_report", description=__doc__.split("\n")[0])
    parser.add_argument("--short", action="store_true", help="the short scale (the default test run's), quickly")
    parser.add_argument("--records", type=Path, help="only read the tallies in this folder (run nothing)")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)
    console = Console()
    code: int | None = None
    folder = args.records
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="fault-report-"))
        command = suite_command(args.short, suite_files()) + list(args.pytest_args)
        console.print(f"[bold]running[/] {' '.join(command[1:])}  (records in {folder})")
        env = {**os.environ, RECORD_DIR_ENV: str(folder)}
        code = subprocess.run(command, cwd=ROOT, env=env).returncode
    elif not folder.is_dir():
        parser.error(f"--records {folder}: not a folder")
    try:
        rows = read_records(folder)
    except RecordError as err:
        console.print(f"[red]bad record[/] {err}")
        return 2
    summary = summarize(rows)
    render(rows, summary, console)
    if code not in (None, 0):
        console.print(f"[red]pytest failed (exit {code})[/]")
    if not summary.clean:
        console.print(f"[red]data lost: {summary.lost}, double counts: {summary.double}[/]")
    print(summary_line(summary))
    return exit_status(code, summary)


if __name__ == "__main__":
    sys.exit(main())
