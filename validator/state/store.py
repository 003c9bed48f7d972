"""`StateStore`: every read and guarded transition of the validator's database (see `schema.py`).

Each public write method is one transaction. Transitions are `UPDATE ... WHERE state = <expected>` and check
the row count: a transition that finds another state raises `StaleTransition` instead of silently doing the
work twice, which is what makes a `kill -9` at any instant safe.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from node import sqlite

from .outcomes import OutcomeSteps
from .records import LossRow, PlannedModel, Rejection, StaleTransition, Verdict
from .schema import SCHEMA, SCHEMA_VERSION


class StateStore(OutcomeSteps):
    """The validator's state in one SQLite file; one instance per process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite.connect(self.path, busy_timeout_s=30.0)
        self.conn.executescript(SCHEMA)  # idempotent (IF NOT EXISTS), safe for two processes at once
        with self.write() as conn:
            found = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if found is None:
                conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(found["value"]) != SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema {found['value']}, this validator uses {SCHEMA_VERSION}")

    def write(self):
        return sqlite.write_transaction(self.conn)

    def read(self):
        return sqlite.read_transaction(self.conn)

    def close(self) -> None:
        self.conn.close()

    # -- meta and counters -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        with self.write() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    @staticmethod
    def bump(conn: sqlite3.Connection, name: str, label: str = "", by: float = 1.0) -> None:
        """Add to a counter inside the caller's transaction."""
        conn.execute(
            "INSERT INTO counters (name, label, value) VALUES (?, ?, ?) "
            "ON CONFLICT(name, label) DO UPDATE SET value = value + excluded.value",
            (name, label, by),
        )

    def count(self, name: str, label: str | None = None) -> float:
        if label is None:
            row = self.conn.execute("SELECT COALESCE(SUM(value), 0) AS v FROM counters WHERE name = ?", (name,))
        else:
            row = self.conn.execute("SELECT COALESCE(SUM(value), 0) AS v FROM counters WHERE name = ? AND label = ?",
                                    (name, label))
        return float(row.fetchone()["v"])

    def counters(self) -> dict[tuple[str, str], float]:
        return {(r["name"], r["label"]): float(r["value"]) for r in self.conn.execute("SELECT * FROM counters")}

    def note_error(self, name: str, label: str) -> None:
        """Count an outside failure (chain or hub error by kind) in its own transaction."""
        with self.write() as conn:
            self.bump(conn, name, label)

    # -- recovery ----------------------------------------------------------------------------------------

    def sweep(self, block: int | None = None) -> int:
        """Work that was started and abandoned (by a killed process, or one round `block`) goes back to `pending`."""
        with self.write() as conn:
            if block is None:
                return conn.execute("UPDATE round_models SET state = 'pending' WHERE state = 'running'").rowcount
            return conn.execute("UPDATE round_models SET state = 'pending' WHERE state = 'running' AND round_block = ?",
                                (block,)).rowcount

    # -- rounds ------------------------------------------------------------------------------------------

    def round(self, block: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM rounds WHERE block = ?", (block,)).fetchone()

    def rounds(self, states: Iterable[str] | None = None) -> list[sqlite3.Row]:
        if states is None:
            return self.conn.execute("SELECT * FROM rounds ORDER BY block").fetchall()
        wanted = list(states)
        marks = ",".join("?" * len(wanted))
        return self.conn.execute(f"SELECT * FROM rounds WHERE state IN ({marks}) ORDER BY block", wanted).fetchall()

    def last_round(self, states: Sequence[str] = ("done",)) -> sqlite3.Row | None:
        marks = ",".join("?" * len(states))
        return self.conn.execute(
            f"SELECT * FROM rounds WHERE state IN ({marks}) ORDER BY block DESC LIMIT 1", list(states)
        ).fetchone()

    def plan_round(
        self,
        block: int,
        block_hash: str,
        seed: int,
        competitions_json: str,
        competitions_sha: str,
        metagraph: Mapping[str, int],
        my_uid: int | None,
        models: Sequence[PlannedModel],
        samples: Mapping[str, Sequence[str]],
        rejections: Sequence[Rejection] = (),
        note: str = "",
        pointers: Mapping[str, tuple[str, int, int | None]] | None = None,
    ) -> None:
        """Insert a round with its models and samples; a second plan of the same block is refused."""
        with self.write() as conn:
            if conn.execute("SELECT 1 FROM rounds WHERE block = ?", (block,)).fetchone() is not None:
                raise StaleTransition(f"round {block} is already planned")
            conn.execute(
                "INSERT INTO rounds (block, block_hash, seed, competitions_sha, competitions_json, metagraph_json, "
                "my_uid, state, note, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'evaluating', ?, ?)",
                (block, block_hash, str(seed), competitions_sha, competitions_json,
                 json.dumps(dict(sorted(metagraph.items()))), my_uid, note, time.time()),
            )
            conn.executemany(
                "INSERT INTO round_models (round_block, hotkey, uid, competition, pointer, commit_block, role, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [(block, m.hotkey, m.uid, m.competition, m.pointer, m.commit_block, m.role) for m in models],
            )
            conn.executemany(
                "INSERT INTO round_samples (round_block, competition, idx, sample_id) VALUES (?, ?, ?, ?)",
                [(block, comp, i, sid) for comp, ids in samples.items() for i, sid in enumerate(ids)],
            )
            conn.executemany(
                "INSERT INTO rejections (round_block, hotkey, data, reason, message) VALUES (?, ?, ?, ?, ?)",
                [(block, r.hotkey, r.data[:256], r.reason, r.message[:500]) for r in rejections],
            )
            for hotkey, (data, commit_block, uid) in (pointers or {}).items():
                conn.execute(
                    "INSERT OR REPLACE INTO pointers (hotkey, data, commit_block, uid, seen_round) VALUES (?,?,?,?,?)",
                    (hotkey, data, commit_block, uid, block),
                )
            self.bump(conn, "rounds_planned")

    def known_pointers(self) -> dict[str, sqlite3.Row]:
        """The last commitment seen per hotkey (used when the chain cannot be read)."""
        return {r["hotkey"]: r for r in self.conn.execute("SELECT * FROM pointers")}

    def round_samples(self, block: int, competition: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT sample_id FROM round_samples WHERE round_block = ? AND competition = ? ORDER BY idx",
            (block, competition),
        )
        return [r["sample_id"] for r in rows]

    def round_models(self, block: int, states: Iterable[str] | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM round_models WHERE round_block = ?"
        args: list[object] = [block]
        if states is not None:
            wanted = list(states)
            sql += f" AND state IN ({','.join('?' * len(wanted))})"
            args += wanted
        return self.conn.execute(sql + " ORDER BY commit_block, hotkey", args).fetchall()

    def rejections(self, block: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM rejections WHERE round_block = ? ORDER BY hotkey", (block,)).fetchall()

    def _transition(self, conn: sqlite3.Connection, sql: str, args: Sequence[object], what: str) -> None:
        if conn.execute(sql, args).rowcount != 1:
            raise StaleTransition(what)

    def claim_model(self, block: int, hotkey: str) -> None:
        """pending -> running."""
        with self.write() as conn:
            self._transition(
                conn,
                "UPDATE round_models SET state = 'running', attempts = attempts + 1 "
                "WHERE round_block = ? AND hotkey = ? AND state = 'pending'",
                (block, hotkey),
                f"round {block} model {hotkey} is not pending",
            )

    def release_model(self, block: int, hotkey: str, reason: str, message: str) -> None:
        """running -> pending after a transient failure (it will be tried again this round)."""
        with self.write() as conn:
            self._transition(
                conn,
                "UPDATE round_models SET state = 'pending', reason = ?, message = ? "
                "WHERE round_block = ? AND hotkey = ? AND state = 'running'",
                (reason, message[:1000], block, hotkey),
                f"round {block} model {hotkey} is not running",
            )
            self.bump(conn, "transient_failures", reason)

    def finish_model(
        self,
        block: int,
        hotkey: str,
        state: str,
        *,
        reason: str | None = None,
        message: str = "",
        content_hash: str | None = None,
        verdict: Verdict | None = None,
        losses: tuple[str, str, Sequence[LossRow]] | None = None,
        drop_cache: tuple[str, str] | None = None,
        eval_seconds: float = 0.0,
        evaluated_samples: int = 0,
        cached_samples: int = 0,
        drift: bool = False,
    ) -> None:
        """running -> evaluated | rejected | failed, with the verdict and new losses, in one transaction.

        `losses` is `(policy, dtype, rows)` stored under `content_hash`; `drop_cache` `(policy, dtype)` first
        deletes the model's cached losses (a spot check drifted).
        """
        if state not in ("evaluated", "rejected", "failed"):
            raise ValueError(f"not a final model state: {state}")
        with self.write() as conn:
            self._transition(
                conn,
                "UPDATE round_models SET state = ?, reason = ?, message = ?, content_hash = ?, eval_seconds = ?, "
                "evaluated_samples = ?, cached_samples = ? WHERE round_block = ? AND hotkey = ? AND state = 'running'",
                (state, reason, message[:1000], content_hash, eval_seconds, evaluated_samples, cached_samples,
                 block, hotkey),
                f"round {block} model {hotkey} is not running",
            )
            if verdict is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO verdicts (hotkey, pointer, status, reason, message, content_hash, "
                    "parameters, total_bytes, lineage, lineage_parent, lineage_message, checked_round) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (verdict.hotkey, verdict.pointer, verdict.status, verdict.reason, verdict.message[:1000],
                     verdict.content_hash, verdict.parameters, verdict.total_bytes, verdict.lineage,
                     verdict.lineage_parent, verdict.lineage_message[:1000], block),
                )
            if drop_cache is not None and content_hash is not None:
                conn.execute("DELETE FROM losses WHERE content_hash = ? AND policy = ? AND dtype = ?",
                             (content_hash, *drop_cache))
            if losses is not None and content_hash is not None:
                policy, dtype, rows = losses
                conn.executemany(
                    "INSERT OR REPLACE INTO losses (content_hash, sample_id, policy, dtype, loss, tokens, round_block) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [(content_hash, r.sample_id, policy, dtype, _storable(r.loss), r.tokens, block) for r in rows],
                )
            self.bump(conn, "models_" + state, reason or "")
            if evaluated_samples:
                self.bump(conn, "samples_evaluated", by=evaluated_samples)
            if cached_samples:
                self.bump(conn, "cache_hits", by=cached_samples)
            if drift:
                self.bump(conn, "spot_check_drifts")
            if eval_seconds:
                self.bump(conn, "eval_seconds", by=eval_seconds)

    # -- verdicts and losses -----------------------------------------------------------------------------

    def verdict(self, hotkey: str, pointer: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM verdicts WHERE hotkey = ? AND pointer = ?",
                                 (hotkey, pointer)).fetchone()

    def verdicts(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM verdicts ORDER BY hotkey").fetchall()

    def cached_losses(
        self, content_hash: str, policy: str, dtype: str, sample_ids: Iterable[str]
    ) -> dict[str, LossRow]:
        ids = list(sample_ids)
        out: dict[str, LossRow] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.conn.execute(
                f"SELECT sample_id, loss, tokens FROM losses WHERE content_hash = ? AND policy = ? AND dtype = ? "
                f"AND sample_id IN ({','.join('?' * len(chunk))})",
                (content_hash, policy, dtype, *chunk),
            )
            out.update({r["sample_id"]: LossRow(r["sample_id"], float(r["loss"]), int(r["tokens"])) for r in rows})
        return out


def _storable(loss: float) -> float:
    """SQLite turns NaN into NULL; a NaN loss is a failed sample, stored as inf."""
    return math.inf if math.isnan(loss) else float(loss)
