"""The state store's later steps of a round: scoring, the moving average, pools, weights, done.

A mixin of `StateStore` (same connection and transaction helpers), kept apart so each file holds one stage.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping, Sequence

from .records import RoundResult, StaleTransition


class OutcomeSteps:
    """scored -> weights -> done, and the reads those steps need."""

    conn: sqlite3.Connection

    # -- scoring -----------------------------------------------------------------------------------------

    def score_round(
        self,
        block: int,
        results: Sequence[RoundResult],
        ema: Mapping[str, float],
        pool: Mapping[str, Sequence[tuple[str, str]]],
        duplicates: Sequence[tuple[str, str]] = (),
        discarded: Sequence[tuple[str, str]] = (),
    ) -> None:
        """evaluating -> scored: results, the new moving average and pools in one transaction."""
        with self.write() as conn:
            self._transition(conn, "UPDATE rounds SET state = 'scored', scored_at = ? WHERE block = ? "
                             "AND state = 'evaluating'", (time.time(), block), f"round {block} is not evaluating")
            for hotkey, message in duplicates:
                conn.execute("UPDATE round_models SET state = 'rejected', reason = 'duplicate', message = ? "
                             "WHERE round_block = ? AND hotkey = ?", (message, block, hotkey))
                self.bump(conn, "models_rejected", "duplicate")
            conn.executemany(
                "INSERT INTO results (round_block, competition, hotkey, uid, win_rate, weight, mean_loss, samples) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(block, r.competition, r.hotkey, r.uid, r.win_rate, r.weight, r.mean_loss, r.samples)
                 for r in results],
            )
            conn.executemany("INSERT OR IGNORE INTO discarded (hotkey, pointer, round_block) VALUES (?, ?, ?)",
                             [(h, p, block) for h, p in discarded])
            conn.executemany("INSERT INTO ema (round_block, hotkey, value) VALUES (?, ?, ?)",
                             [(block, h, float(v)) for h, v in sorted(ema.items())])
            conn.executemany(
                "INSERT INTO pool (round_block, competition, hotkey, pointer) VALUES (?, ?, ?, ?)",
                [(block, comp, h, p) for comp, members in pool.items() for h, p in members],
            )

    def ema(self, block: int | None = None) -> dict[str, float]:
        """The moving average after round `block` (default: the latest scored round)."""
        if block is None:
            row = self.conn.execute("SELECT MAX(round_block) AS b FROM ema").fetchone()
            if row is None or row["b"] is None:
                return {}
            block = int(row["b"])
        rows = self.conn.execute("SELECT hotkey, value FROM ema WHERE round_block = ?", (block,))
        return {r["hotkey"]: float(r["value"]) for r in rows}

    def latest_ema_before(self, block: int) -> dict[str, float]:
        row = self.conn.execute("SELECT MAX(round_block) AS b FROM ema WHERE round_block < ?", (block,)).fetchone()
        return {} if row is None or row["b"] is None else self.ema(int(row["b"]))

    def pool_before(self, block: int, competition: str) -> list[tuple[str, str]]:
        """The pool left by the latest scored round before `block`: `[(hotkey, pointer)]`."""
        row = self.conn.execute(
            "SELECT MAX(r.block) AS b FROM rounds r WHERE r.block < ? AND r.state IN ('scored', 'done')", (block,)
        ).fetchone()
        if row is None or row["b"] is None:
            return []
        rows = self.conn.execute("SELECT hotkey, pointer FROM pool WHERE round_block = ? AND competition = ? "
                                 "ORDER BY hotkey", (int(row["b"]), competition))
        return [(r["hotkey"], r["pointer"]) for r in rows]

    def results(self, block: int) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM results WHERE round_block = ? ORDER BY competition, hotkey",
                                 (block,)).fetchall()

    def last_evaluated(self) -> dict[tuple[str, str], int]:
        """`{(hotkey, pointer): round block}` of each pair's latest evaluation.

        A copy rejected as a duplicate at scoring was evaluated too (its losses came from the cache): it counts,
        so it is revisited like any model outside the pool instead of being picked as "new" every round, where,
        committed early, it would take the newcomers' places for ever.
        """
        rows = self.conn.execute("SELECT hotkey, pointer, MAX(round_block) AS b FROM round_models "
                                 "WHERE state = 'evaluated' OR (state = 'rejected' AND reason = 'duplicate') "
                                 "GROUP BY hotkey, pointer")
        return {(r["hotkey"], r["pointer"]): int(r["b"]) for r in rows}

    def discarded(self) -> set[tuple[str, str]]:
        return {(r["hotkey"], r["pointer"]) for r in self.conn.execute("SELECT hotkey, pointer FROM discarded")}

    # -- weights -----------------------------------------------------------------------------------------

    def weight_set(self, block: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM weight_sets WHERE round_block = ?", (block,)).fetchone()

    def last_weights_set(self, before: int | None = None) -> sqlite3.Row | None:
        """The newest round whose weights reached the chain (of rounds before `before`, when given)."""
        bound = "" if before is None else " AND round_block < ?"
        return self.conn.execute(
            f"SELECT * FROM weight_sets WHERE state = 'set'{bound} ORDER BY round_block DESC LIMIT 1",
            () if before is None else (before,),
        ).fetchone()

    def begin_weights(
        self, block: int, weights: Mapping[int, float], state: str = "sending", message: str = ""
    ) -> None:
        """Record the intent before the chain write (or that the round's write is skipped)."""
        with self.write() as conn:
            if conn.execute("SELECT 1 FROM weight_sets WHERE round_block = ?", (block,)).fetchone() is not None:
                raise StaleTransition(f"weights of round {block} already recorded")
            conn.execute(
                "INSERT INTO weight_sets (round_block, state, weights_json, message, updated_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (block, state, json.dumps({str(u): w for u, w in sorted(weights.items())}), message, time.time()),
            )

    def end_weights(self, block: int, state: str, *, chain_block: int | None = None, message: str = "",
                    attempts: int = 0) -> None:
        """sending -> set | failed."""
        with self.write() as conn:
            self._transition(
                conn,
                "UPDATE weight_sets SET state = ?, chain_block = ?, message = ?, attempts = attempts + ?, "
                "updated_at = ? WHERE round_block = ? AND state = 'sending'",
                (state, chain_block, message[:1000], attempts, time.time(), block),
                f"weights of round {block} are not being sent",
            )
            self.bump(conn, "weights_" + state)

    def finish_round(self, block: int) -> None:
        """scored -> done."""
        with self.write() as conn:
            self._transition(conn, "UPDATE rounds SET state = 'done', finished_at = ? WHERE block = ? "
                             "AND state = 'scored'", (time.time(), block), f"round {block} is not scored")
            self.bump(conn, "rounds_completed")

    def abandon_round(self, block: int) -> None:
        with self.write() as conn:
            conn.execute("UPDATE rounds SET state = 'abandoned', finished_at = ? WHERE block = ? "
                         "AND state IN ('evaluating', 'scored')", (time.time(), block))
            conn.execute("UPDATE round_models SET state = 'failed', reason = COALESCE(reason, 'abandoned') "
                         "WHERE round_block = ? AND state IN ('pending', 'running')", (block,))
