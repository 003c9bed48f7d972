"""`python -m validator report --out DIR`: one self-contained HTML page about the validator's rounds.

The page (`DIR/report.html`) embeds its figures as PNG data URIs and its style inline, loads nothing else and
runs no script, so it opens from disk, from a mail attachment or behind a firewall. It is read from the state
database only (like `status`), so it can be written while the daemon runs.
"""

from __future__ import annotations

import base64
import html
import sys
import time
from dataclasses import asdict
from pathlib import Path

from node import display
from validator import plots
from validator.settings import Settings
from validator.state.queries import NoState, StateView, state_file

REPORT_FILE = "report.html"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1240px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; } img { border: 1px solid #ddd; display: block; }
.muted { color: #666; }
"""


def _img(png: bytes, alt: str, figure_id: str) -> str:
    data = base64.b64encode(png).decode()
    return (f'<img id="{figure_id}" class="plot" alt="{html.escape(alt)}" width="{plots.WIDTH}" '
            f'height="{plots.HEIGHT}" src="data:image/png;base64,{data}">')


def _table(table_id: str, headers: list[str], rows: list[list[object]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td{" class=n" if i in numeric else ""}>{html.escape(str(v))}</td>'
                        for i, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    if not rows:
        body.append(f'<tr class="empty"><td colspan="{len(headers)}" class="muted">none</td></tr>')
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def build_report(view: StateView, now: float | None = None) -> str:
    """The page as one HTML string."""
    now = time.time() if now is None else now
    status = view.status(now)
    history = [dict(r) for r in view.results_history()]
    rounds = [asdict(s) for s in view.round_summaries()]
    board = status.board_round
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>SN29 validator report</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>SN29 validator report</h1>",
             f'<p class="muted">validator {html.escape(status.hotkey or "-")} · state {html.escape(status.state_path)}'
             f" · written {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(now))} · {len(rounds)} rounds</p>"]
    last = status.last_round
    if last is not None:
        parts.append(f"<p>last round {last.block} ({html.escape(last.state)}): seed {last.seed}, "
                     f"{sum(last.samples.values())} samples, {last.models} models ({last.evaluated} evaluated, "
                     f"{last.rejected} rejected, {last.failed} failed), took {display.age(last.seconds)}.</p>")
    parts.append("<h2>Win rate and weight per model over rounds</h2>")
    parts.append(_img(plots.win_rates_and_weights(history), "win rate and weight per model", "plot-weights"))
    parts.append(f"<h2>Per-model loss distribution, round {board if board is not None else '-'}</h2>")
    samples = view.sample_losses(board) if board is not None else {}
    parts.append(_img(plots.loss_distributions(samples, board), "loss distributions", "plot-losses"))
    parts.append("<h2>Loss per token against stored parameters (the growth frontier)</h2>")
    parts.append(_img(plots.frontier(view.frontier_points()), "loss against parameters", "plot-frontier"))
    parts.append("<h2>Round durations</h2>")
    parts.append(_img(plots.round_durations(rounds), "round durations", "plot-durations"))
    parts.append("<h2>Rejections by reason</h2>")
    parts.append(_table("rejections", ["kind", "reason", "count", "distinct models", "last round", "latest message"],
                        [[r["kind"], r["reason"], r["count"], r["models"], r["last_round"], r["example"]]
                         for r in view.rejections_by_reason()], numeric={2, 3, 4}))
    for competition, lines in status.competitions.items():
        parts.append(f"<h2>Leaderboard: {html.escape(competition)}, round {board}</h2>")
        parts.append(_table(
            f"leaderboard-{html.escape(competition)}",
            ["uid", "hotkey", "model", "commit block", "parameters", "loss/token", "win rate", "weight",
             "avg weight", "lineage", "state", "reason"],
            [["-" if m.uid is None else m.uid, display.short_hotkey(m.hotkey), display.short_pointer(m.pointer),
              m.commit_block, display.parameters(m.parameters),
              display.number(m.mean_loss), display.number(m.win_rate, 3), display.number(m.weight, 3),
              display.number(m.ema, 3),
              m.lineage + (f" ({display.short_pointer(m.lineage_parent)})" if m.lineage_parent else ""),
              m.state, f"{m.reason}: {m.message}" if m.reason else ""] for m in lines],
            numeric={0, 3, 4, 5, 6, 7, 8}))
    parts.append("<h2>Rounds</h2>")
    parts.append(_table("rounds", ["block", "state", "samples", "models", "evaluated", "rejected", "failed",
                                   "seconds", "evaluation seconds", "note"],
                        [[r["block"], r["state"], sum(r["samples"].values()), r["models"], r["evaluated"],
                          r["rejected"], r["failed"], display.number(r["seconds"], 1),
                          display.number(r["eval_seconds"], 1), r["note"]] for r in reversed(rounds)],
                        numeric={0, 2, 3, 4, 5, 6, 7, 8}))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(settings: Settings, out_dir: str | Path) -> Path:
    out = Path(out_dir).expanduser()
    with StateView(state_file(settings.state_path)) as view:
        page = build_report(view)
    out.mkdir(parents=True, exist_ok=True)
    target = out / REPORT_FILE
    partial = target.with_suffix(".html.partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)  # a reader never sees half a page
    return target


def run_report(settings: Settings, out_dir: str) -> int:
    """CLI entry: 0 written, 1 when there is no state database."""
    try:
        target = write_report(settings, out_dir)
    except NoState as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(target)
    return 0
