"""Read-only views of the validator's database for the operator's tools (status, report, metrics).

`StateView` opens the database the daemon writes without creating or migrating anything, so `status`, the
report and a metrics scrape work while the daemon runs (WAL: readers never block the writer) and after it
stopped. Every method is a plain SELECT; several that must agree with each other run in one read transaction.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from node import sqlite

from .schema import SCHEMA_VERSION

STATE_FILE = "state.sqlite"


class NoState(RuntimeError):
    """There is no validator database where one was expected (the daemon never ran with this --state.dir)."""


@dataclass(frozen=True)
class ModelLine:
    """One model of a round as the leaderboard shows it."""

    competition: str
    uid: int | None
    hotkey: str
    pointer: str
    commit_block: int
    role: str
    state: str  # pending | running | evaluated | rejected | failed
    parameters: int | None
    mean_loss: float | None  # nats per scored token over the round's samples
    win_rate: float | None
    weight: float | None  # this round's weight in its competition
    ema: float | None  # the moving average after this round
    lineage: str  # none | certified | not_certified | unchecked
    lineage_parent: str | None
    reason: str | None
    message: str


@dataclass(frozen=True)
class RoundSummary:
    """What one round was: its anchor, seed, samples, models and how long it took."""

    block: int
    state: str
    seed: str
    samples: dict[str, int]
    models: int
    evaluated: int
    rejected: int
    failed: int
    pending: int
    refused_pointers: int
    started_at: float
    finished_at: float | None
    seconds: float | None  # wall time from planning to done (None while unfinished)
    eval_seconds: float  # time inside the evaluation process, summed over models
    note: str


@dataclass(frozen=True)
class WeightsLine:
    """The latest weight decision, and the latest one that actually reached the chain."""

    round_block: int
    state: str
    chain_block: int | None
    updated_at: float
    message: str
    uids: int


@dataclass(frozen=True)
class Status:
    state_path: str
    hotkey: str | None
    last_round: RoundSummary | None  # the newest round in any state
    board_round: int | None  # the newest scored round: the leaderboard's source
    competitions: dict[str, list[ModelLine]] = field(default_factory=dict)
    refused_pointers: list[dict[str, str]] = field(default_factory=list)
    weights_last_set: WeightsLine | None = None
    weights_last_decision: WeightsLine | None = None
    now: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return _finite(asdict(self))


def _finite(obj: object) -> object:
    """JSON has no inf/NaN: they become null (a failed sample's inf loss must not break a script's parser)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def state_file(state_dir: str | Path) -> Path:
    return Path(state_dir).expanduser() / STATE_FILE


class StateView:
    """Read-only queries over one validator database (its own connection: safe from any thread that owns it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise NoState(f"no validator state at {self.path} (has the validator run with this --state.dir?)")
        self.conn = sqlite.connect(self.path, busy_timeout_s=10.0)
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row["value"]) != SCHEMA_VERSION:
            found = None if row is None else row["value"]
            self.conn.close()
            raise NoState(f"{self.path} has schema {found}, this validator reads {SCHEMA_VERSION}")

    @classmethod
    def of_dir(cls, state_dir: str | Path) -> StateView:
        return cls(state_file(state_dir))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> StateView:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- rounds ----------------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def round_blocks(self, states: tuple[str, ...] = ("scored", "done")) -> list[int]:
        marks = ",".join("?" * len(states))
        rows = self.conn.execute(f"SELECT block FROM rounds WHERE state IN ({marks}) ORDER BY block", states)
        return [int(r["block"]) for r in rows]

    def latest_round(self, states: tuple[str, ...] | None = None) -> int | None:
        if states is None:
            row = self.conn.execute("SELECT MAX(block) AS b FROM rounds").fetchone()
        else:
            marks = ",".join("?" * len(states))
            row = self.conn.execute(f"SELECT MAX(block) AS b FROM rounds WHERE state IN ({marks})", states).fetchone()
        return None if row["b"] is None else int(row["b"])

    def round_summary(self, block: int) -> RoundSummary | None:
        row = self.conn.execute("SELECT * FROM rounds WHERE block = ?", (block,)).fetchone()
        if row is None:
            return None
        samples = {r["competition"]: int(r["n"]) for r in self.conn.execute(
            "SELECT competition, COUNT(*) AS n FROM round_samples WHERE round_block = ? GROUP BY competition "
            "ORDER BY competition", (block,))}
        by_state = {r["state"]: int(r["n"]) for r in self.conn.execute(
            "SELECT state, COUNT(*) AS n FROM round_models WHERE round_block = ? GROUP BY state", (block,))}
        eval_seconds = self.conn.execute("SELECT COALESCE(SUM(eval_seconds), 0) AS s FROM round_models "
                                         "WHERE round_block = ?", (block,)).fetchone()["s"]
        refused = self.conn.execute("SELECT COUNT(*) AS n FROM rejections WHERE round_block = ?",
                                    (block,)).fetchone()["n"]
        finished = row["finished_at"]
        return RoundSummary(
            block=block, state=row["state"], seed=str(row["seed"]), samples=samples,
            models=sum(by_state.values()), evaluated=by_state.get("evaluated", 0),
            rejected=by_state.get("rejected", 0), failed=by_state.get("failed", 0),
            pending=by_state.get("pending", 0) + by_state.get("running", 0), refused_pointers=int(refused),
            started_at=float(row["started_at"]), finished_at=None if finished is None else float(finished),
            seconds=None if finished is None else float(finished) - float(row["started_at"]),
            eval_seconds=float(eval_seconds), note=row["note"],
        )

    def round_summaries(self) -> list[RoundSummary]:
        return [s for b in self.round_blocks(("evaluating", "scored", "done", "abandoned"))
                if (s := self.round_summary(b)) is not None]

    # -- models ----------------------------------------------------------------------------------------

    def model_lines(self, block: int) -> list[ModelLine]:
        """Every model of round `block` with its verdict, result and moving average, best weight first."""
        rows = self.conn.execute(
            "SELECT m.*, v.parameters, v.lineage, v.lineage_parent, r.win_rate, r.weight, r.mean_loss, e.value AS ema "
            "FROM round_models m "
            "LEFT JOIN verdicts v ON v.hotkey = m.hotkey AND v.pointer = m.pointer "
            "LEFT JOIN results r ON r.round_block = m.round_block AND r.hotkey = m.hotkey "
            "AND r.competition = m.competition "
            "LEFT JOIN ema e ON e.round_block = m.round_block AND e.hotkey = m.hotkey "
            "WHERE m.round_block = ?", (block,)).fetchall()
        lines = [ModelLine(
            competition=r["competition"], uid=r["uid"], hotkey=r["hotkey"], pointer=r["pointer"],
            commit_block=int(r["commit_block"]), role=r["role"], state=r["state"], parameters=r["parameters"],
            mean_loss=r["mean_loss"], win_rate=r["win_rate"], weight=r["weight"], ema=r["ema"],
            lineage=r["lineage"] or "none", lineage_parent=r["lineage_parent"],
            reason=r["reason"] if r["state"] in ("rejected", "failed") else None,
            message=r["message"] if r["state"] in ("rejected", "failed") else "",
        ) for r in rows]
        return sorted(lines, key=lambda m: (m.competition, -(m.weight or 0.0), -(m.win_rate or 0.0),
                                            m.commit_block, m.hotkey))

    def refused_pointers(self, block: int) -> list[dict[str, str]]:
        return [{"hotkey": r["hotkey"], "data": r["data"], "reason": r["reason"], "message": r["message"]}
                for r in self.conn.execute("SELECT * FROM rejections WHERE round_block = ? ORDER BY hotkey", (block,))]

    # -- weights ---------------------------------------------------------------------------------------

    def _weights_line(self, where: str) -> WeightsLine | None:
        row = self.conn.execute(f"SELECT * FROM weight_sets {where} ORDER BY round_block DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return WeightsLine(int(row["round_block"]), row["state"], row["chain_block"], float(row["updated_at"]),
                           row["message"], len(json.loads(row["weights_json"])))

    def weights_last_set(self) -> WeightsLine | None:
        return self._weights_line("WHERE state = 'set'")

    def weights_last_decision(self) -> WeightsLine | None:
        return self._weights_line("")

    # -- the whole status ------------------------------------------------------------------------------

    def status(self, now: float | None = None) -> Status:
        with sqlite.read_transaction(self.conn):  # one snapshot: the daemon may commit between two SELECTs
            last = self.latest_round()
            board = self.latest_round(("scored", "done"))
            competitions: dict[str, list[ModelLine]] = defaultdict(list)
            for line in self.model_lines(board) if board is not None else []:
                competitions[line.competition].append(line)
            return Status(
                state_path=str(self.path), hotkey=self.meta("hotkey"),
                last_round=None if last is None else self.round_summary(last), board_round=board,
                competitions=dict(sorted(competitions.items())),
                refused_pointers=[] if last is None else self.refused_pointers(last),
                weights_last_set=self.weights_last_set(), weights_last_decision=self.weights_last_decision(),
                now=time.time() if now is None else now,
            )

    # -- history for the report ------------------------------------------------------------------------

    def results_history(self) -> list[sqlite3.Row]:
        """Per scored round and model: win rate, weight, loss and moving average (rounds in order)."""
        return self.conn.execute(
            "SELECT r.round_block, r.competition, r.hotkey, r.uid, r.win_rate, r.weight, r.mean_loss, "
            "e.value AS ema, m.pointer FROM results r "
            "LEFT JOIN ema e ON e.round_block = r.round_block AND e.hotkey = r.hotkey "
            "LEFT JOIN round_models m ON m.round_block = r.round_block AND m.hotkey = r.hotkey "
            "ORDER BY r.round_block, r.competition, r.hotkey").fetchall()

    def sample_losses(self, block: int) -> dict[tuple[str, str], list[float]]:
        """`{(competition, hotkey): [loss per token of each of the round's samples]}` for evaluated models.

        Failed samples (inf) and empty ones are left out: the distribution is of what was scored.
        """
        out: dict[tuple[str, str], list[float]] = {}
        models = self.conn.execute("SELECT hotkey, competition, content_hash FROM round_models "
                                   "WHERE round_block = ? AND state = 'evaluated' ORDER BY competition, hotkey",
                                   (block,)).fetchall()
        for m in models:
            rows = self.conn.execute(
                "SELECT l.sample_id, l.loss, l.tokens FROM losses l JOIN round_samples s "
                "ON s.sample_id = l.sample_id AND s.round_block = ? AND s.competition = ? "
                "WHERE l.content_hash = ? ORDER BY s.idx, l.round_block DESC",
                (block, m["competition"], m["content_hash"])).fetchall()
            seen: set[str] = set()
            values: list[float] = []
            for r in rows:  # one value per sample (the newest row if a model was evaluated under two policies)
                if r["sample_id"] in seen:
                    continue
                seen.add(r["sample_id"])
                if r["tokens"] > 0 and math.isfinite(r["loss"]):
                    values.append(float(r["loss"]) / int(r["tokens"]))
            out[(m["competition"], m["hotkey"])] = values
        return out

    def frontier_points(self) -> list[dict[str, object]]:
        """Each evaluated (hotkey, pointer) at its latest scored round: stored parameters and loss per token."""
        rows = self.conn.execute(
            "SELECT r.competition, r.hotkey, m.pointer, v.parameters, r.mean_loss, MAX(r.round_block) AS round_block "
            "FROM results r JOIN round_models m ON m.round_block = r.round_block AND m.hotkey = r.hotkey "
            "JOIN verdicts v ON v.hotkey = m.hotkey AND v.pointer = m.pointer "
            "WHERE r.mean_loss IS NOT NULL AND v.parameters IS NOT NULL "
            "GROUP BY r.competition, r.hotkey, m.pointer ORDER BY v.parameters").fetchall()
        return [dict(r) for r in rows]

    def rejections_by_reason(self) -> list[dict[str, object]]:
        """Refusals over all rounds, by reason kind: models rejected or failed, and pointers refused at planning."""
        rows = self.conn.execute(
            "SELECT state AS kind, reason, COUNT(*) AS n, COUNT(DISTINCT hotkey || ' ' || pointer) AS distinct_n, "
            "MAX(round_block) AS last_round FROM round_models WHERE state IN ('rejected', 'failed') "
            "GROUP BY state, reason "
            "UNION ALL SELECT 'refused pointer' AS kind, reason, COUNT(*) AS n, COUNT(DISTINCT hotkey || ' ' || data), "
            "MAX(round_block) FROM rejections GROUP BY reason ORDER BY n DESC, kind, reason").fetchall()
        out = []
        for r in rows:
            table, key = ("rejections", "data") if r["kind"] == "refused pointer" else ("round_models", "pointer")
            state = "" if table == "rejections" else " AND state = ?"
            args: tuple[object, ...] = (r["reason"],) if table == "rejections" else (r["reason"], r["kind"])
            example = self.conn.execute(
                f"SELECT hotkey, {key} AS what, message FROM {table} WHERE reason IS ?{state} "
                "ORDER BY round_block DESC LIMIT 1", args).fetchone()
            out.append({"kind": r["kind"], "reason": r["reason"] or "", "count": int(r["n"]),
                        "models": int(r["distinct_n"]), "last_round": int(r["last_round"]),
                        "example": "" if example is None else example["message"]})
        return out

    # -- metrics ---------------------------------------------------------------------------------------

    def counters(self) -> dict[tuple[str, str], float]:
        return {(r["name"], r["label"]): float(r["value"]) for r in self.conn.execute("SELECT * FROM counters")}

    def round_throughput(self, block: int) -> tuple[int, float]:
        """(tokens newly evaluated in round `block`, seconds inside the evaluation process in that round)."""
        tokens = self.conn.execute("SELECT COALESCE(SUM(tokens), 0) AS t FROM losses WHERE round_block = ?",
                                   (block,)).fetchone()["t"]
        seconds = self.conn.execute("SELECT COALESCE(SUM(eval_seconds), 0) AS s FROM round_models "
                                    "WHERE round_block = ?", (block,)).fetchone()["s"]
        return int(tokens), float(seconds)
