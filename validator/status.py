"""`python -m validator status`: the leaderboard and the last round, read from the state database alone.

It never talks to the chain or the hub, so it answers while the daemon runs (WAL readers do not block the
writer), after it stopped, and on a machine where the network is down. `--json` prints the same content as
one JSON object (full hotkeys and pointers, times as Unix seconds, inf/NaN as null) for scripts.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from rich.console import Console
from rich.table import Table

from node import display
from validator.settings import Settings
from validator.state.queries import ModelLine, NoState, StateView, Status, state_file


def read_status(settings: Settings) -> Status:
    with StateView(state_file(settings.state_path)) as view:
        return view.status()


def print_status(settings: Settings, as_json: bool = False, out: TextIO | None = None) -> int:
    """Print the status; 0 when shown, 1 when there is no state database to show."""
    out = out or sys.stdout
    try:
        status = read_status(settings)
    except NoState as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if as_json:
        json.dump(status.to_dict(), out, indent=2, sort_keys=True)
        out.write("\n")
        return 0
    terminal = out.isatty()
    console = Console(file=out, width=None if terminal else 200, highlight=False, soft_wrap=False)
    render(status, console)
    return 0


def render(status: Status, console: Console) -> None:
    console.print(f"[bold]validator[/bold] {status.hotkey or '-'}   state {status.state_path}")
    last = status.last_round
    if last is None:
        console.print("no round yet")
    else:
        samples = ", ".join(f"{c} {n}" for c, n in last.samples.items()) or "0"
        running = display.age(status.now - last.started_at)
        took = f"took {display.age(last.seconds)}" if last.seconds is not None else f"running for {running}"
        console.print(
            f"last round {last.block} ({last.state}): seed {last.seed}, samples {samples}, "
            f"models {last.models} ({last.evaluated} evaluated, {last.rejected} rejected, {last.failed} failed"
            f"{f', {last.pending} pending' if last.pending else ''}), {last.refused_pointers} refused pointers, "
            f"{took} ({last.eval_seconds:.1f} s evaluating)" + (f"; note: {last.note}" if last.note else ""))
    console.print(_weights_text(status))
    if status.board_round is None:
        console.print("no scored round yet: no leaderboard")
    for competition, lines in status.competitions.items():
        console.print(_board(competition, status.board_round, lines))
    if status.refused_pointers and last is not None:
        table = Table(title=f"pointers refused at planning, round {last.block}", title_justify="left")
        for column in ("hotkey", "commitment", "reason", "message"):
            table.add_column(column)
        for r in status.refused_pointers:
            table.add_row(display.short_hotkey(r["hotkey"]), display.short_pointer(r["data"]), r["reason"],
                          r["message"])
        console.print(table)


def _weights_text(status: Status) -> str:
    last_set, decision = status.weights_last_set, status.weights_last_decision
    text = "weights last set: never" if last_set is None else (
        f"weights last set: round {last_set.round_block} at block {last_set.chain_block}, "
        f"{display.age(status.now - last_set.updated_at)} ago, {last_set.uids} uids")
    if decision is not None and (last_set is None or decision.round_block != last_set.round_block):
        text += f"; round {decision.round_block}: {decision.state}" + (f" ({decision.message})"
                                                                       if decision.message else "")
    return text


def _board(competition: str, block: int | None, lines: list[ModelLine]) -> Table:
    table = Table(title=f"competition {competition}, round {block}", title_justify="left")
    for column, justify in (("uid", "right"), ("hotkey", "left"), ("model", "left"), ("commit", "right"),
                            ("params", "right"), ("loss/tok", "right"), ("win rate", "right"),
                            ("weight", "right"), ("avg weight", "right"), ("lineage", "left"), ("state", "left"),
                            ("reason", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for m in lines:
        lineage = f"certified: {display.short_pointer(m.lineage_parent)}" if m.lineage == "certified" else m.lineage
        reason = f"{m.reason}: {m.message}" if m.reason else ""
        table.add_row("-" if m.uid is None else str(m.uid), display.short_hotkey(m.hotkey),
                      display.short_pointer(m.pointer), str(m.commit_block), display.parameters(m.parameters),
                      display.number(m.mean_loss), display.number(m.win_rate, 3), display.number(m.weight, 3),
                      display.number(m.ema, 3), lineage, m.state, reason)
    return table
