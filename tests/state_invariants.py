"""What must hold in a validator's database at any instant, even right after a `kill -9`, as SQL.

Each check returns the offending rows as strings; `violations` runs them all. Most matter because a step that
is redone after a kill must not leave its first attempt behind: counters are bumped in the transaction of the
thing they count, so a redone step that counted twice shows as a counter ahead of its table.
"""

from __future__ import annotations

import sqlite3

# (name, SQL returning one row per violation)
CHECKS: tuple[tuple[str, str], ...] = (
    ("integrity", "SELECT integrity_check AS bad FROM pragma_integrity_check WHERE integrity_check != 'ok'"),
    ("a loss row twice for one (model, sample)",
     "SELECT content_hash || ' ' || sample_id AS bad FROM losses GROUP BY content_hash, sample_id, policy, dtype "
     "HAVING COUNT(*) > 1"),
    ("an evaluated model lacks a loss for one of its round's samples",
     "SELECT m.round_block || ' ' || m.hotkey || ' ' || s.sample_id AS bad FROM round_models m "
     "JOIN round_samples s ON s.round_block = m.round_block AND s.competition = m.competition "
     "WHERE m.state = 'evaluated' AND NOT EXISTS (SELECT 1 FROM losses l WHERE l.content_hash = m.content_hash "
     "AND l.sample_id = s.sample_id)"),
    ("a model still pending or running in a scored round",
     "SELECT m.round_block || ' ' || m.hotkey AS bad FROM round_models m JOIN rounds r ON r.block = m.round_block "
     "WHERE r.state IN ('scored', 'done') AND m.state IN ('pending', 'running')"),
    ("a round not scored has results or a moving average",
     "SELECT r.block AS bad FROM rounds r WHERE r.state = 'evaluating' AND (EXISTS (SELECT 1 FROM results x "
     "WHERE x.round_block = r.block) OR EXISTS (SELECT 1 FROM ema e WHERE e.round_block = r.block))"),
    ("a scored round without results",
     "SELECT r.block AS bad FROM rounds r WHERE r.state IN ('scored', 'done') AND NOT EXISTS "
     "(SELECT 1 FROM results x WHERE x.round_block = r.block)"),
    ("a done round whose weights are unrecorded or still sending",
     "SELECT r.block AS bad FROM rounds r LEFT JOIN weight_sets w ON w.round_block = r.block "
     "WHERE r.state = 'done' AND (w.state IS NULL OR w.state = 'sending')"),
    ("weights recorded for a round not scored",
     "SELECT w.round_block AS bad FROM weight_sets w JOIN rounds r ON r.block = w.round_block "
     "WHERE r.state = 'evaluating'"),
    ("weights set without the block they landed at",
     "SELECT round_block AS bad FROM weight_sets WHERE state = 'set' AND chain_block IS NULL"),
)


EVALUATED = "(state = 'evaluated' OR (state = 'rejected' AND reason = 'duplicate'))"


def _counter(conn: sqlite3.Connection, name: str, label: str | None = None) -> float:
    sql, args = "SELECT COALESCE(SUM(value), 0) FROM counters WHERE name = ?", [name]
    if label is not None:
        sql, args = sql + " AND label = ?", [name, label]
    return float(conn.execute(sql, args).fetchone()[0])


def _one(conn: sqlite3.Connection, sql: str) -> float:
    return float(conn.execute(sql).fetchone()[0] or 0)


def counter_mismatches(conn: sqlite3.Connection) -> list[str]:
    """Each counter against the rows it counts (a step redone after a kill must not count twice)."""
    pairs = {
        "rounds_planned": _one(conn, "SELECT COUNT(*) FROM rounds"),
        "rounds_completed": _one(conn, "SELECT COUNT(*) FROM rounds WHERE state = 'done'"),
        # a duplicate is evaluated (and counted) first, then rejected when the round is scored
        "models_evaluated": _one(conn, f"SELECT COUNT(*) FROM round_models WHERE {EVALUATED}"),
        "models_failed": _one(conn, "SELECT COUNT(*) FROM round_models WHERE state = 'failed'"),
        "models_rejected": _one(conn, "SELECT COUNT(*) FROM round_models WHERE state = 'rejected'"),
        "samples_evaluated": _one(conn, f"SELECT SUM(evaluated_samples) FROM round_models WHERE {EVALUATED}"),
        "weights_set": _one(conn, "SELECT COUNT(*) FROM weight_sets WHERE state = 'set'"),
    }
    return [f"counter {name} = {_counter(conn, name):g}, rows say {rows:g}" for name, rows in pairs.items()
            if _counter(conn, name) != rows]


def violations(conn: sqlite3.Connection) -> list[str]:
    out = [f"{name}: {row[0]}" for name, sql in CHECKS for row in conn.execute(sql).fetchall()]
    return out + counter_mismatches(conn)


def writes_per_round(history: list[tuple[int, int, dict[int, float]]], validator_uid: int,
                     interval: int) -> dict[int, int]:
    """`{round anchor: weight writes}` of one validator, from the chain's weight history (a clock moved only
    between rounds puts every write of round R at a block in [R, R + interval))."""
    out: dict[int, int] = {}
    for uid, block, _ in history:
        if uid == validator_uid:
            anchor = block - block % interval
            out[anchor] = out.get(anchor, 0) + 1
    return out
