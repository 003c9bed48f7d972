"""What an experiment leaves behind: `results.csv`, one PNG per figure, `summary.md`, `config.yaml`, and the
headline `key=value` line; optionally the same summary and plots in `miner/experiments/README.md`.

The README holds one section per experiment between `<!-- experiment:NAME -->` and `<!-- /experiment:NAME -->`
markers, so rerunning one experiment replaces only its own section (plots under `miner/experiments/results/`).
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from node.hub.fsutil import write_atomic

README = Path(__file__).resolve().parent / "README.md"
README_PLOTS = Path(__file__).resolve().parent / "results"


@dataclass
class ExperimentResult:
    """Rows are the measurements (one dict per row, same keys); figures are matplotlib figures by file stem;
    `summary` is markdown (what was measured and what it says, negative results included); `headline` is
    the few numbers printed as the final `key=value` line."""

    rows: list[dict[str, Any]]
    summary: str
    headline: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)

    def headline_line(self) -> str:
        return " ".join(f"{k}={_fmt(v)}" for k, v in self.headline.items())


def _fmt(value: Any) -> str:
    """A headline value: floats to 4 significant digits, no spaces (the line is split on them)."""
    return _cell(value).replace(" ", "_")


def _cell(value: Any) -> str:
    """A table cell: floats to 4 significant digits, text as it is (a `|` escaped)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def rows_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text with the union of the rows' keys as columns, in first-seen order."""
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """A markdown table of `rows` (floats with 4 significant digits)."""
    if not rows:
        return "(no rows)\n"
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def subplots(*args: Any, **kwargs: Any):
    """`matplotlib.pyplot.subplots` on the headless Agg backend (experiments run on machines without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(*args, **kwargs)


def write_result(result: ExperimentResult, out_dir: Path, name: str, config: dict[str, Any]) -> list[Path]:
    """Every output file of one run under `out_dir`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in (("results.csv", rows_csv(result.rows)),
                            ("config.yaml", yaml.safe_dump(config, sort_keys=False)),
                            ("summary.md", f"# {name}\n\n{result.summary.strip()}\n")):
        write_atomic(out_dir / file_name, text.encode())
        written.append(out_dir / file_name)
    for stem, figure in result.figures.items():
        path = out_dir / f"{stem}.png"
        figure.savefig(path, dpi=100, bbox_inches="tight")
        written.append(path)
    return written


def update_readme(name: str, result: ExperimentResult, out_dir: Path, readme: Path | None = None,
                  plots_dir: Path | None = None) -> None:
    """Replace (or append) experiment `name`'s section of the experiments README with this run's summary and
    plots (copied next to the README so the links work in the repository). Defaults: this module's `README`
    and `README_PLOTS`, read at call time."""
    readme = readme or README
    plots_dir = plots_dir or README_PLOTS
    plots_dir.mkdir(parents=True, exist_ok=True)
    links = []
    for stem in result.figures:
        target = plots_dir / f"{name}-{stem}.png"
        shutil.copyfile(out_dir / f"{stem}.png", target)
        links.append(f"![{name} {stem}]({target.relative_to(readme.parent).as_posix()})")
    body = "\n\n".join([result.summary.strip(), *links, f"`{result.headline_line()}`"])
    section = f"<!-- experiment:{name} -->\n{body}\n<!-- /experiment:{name} -->"
    text = readme.read_text(encoding="utf-8") if readme.exists() else "# Growth experiments\n"
    pattern = re.compile(rf"<!-- experiment:{re.escape(name)} -->.*?<!-- /experiment:{re.escape(name)} -->", re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    write_atomic(readme, text.encode())
