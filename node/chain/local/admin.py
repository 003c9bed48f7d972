"""Operator actions on the embedded network: create it, register hotkeys, stake, permits, the clock.

These need no signature: whoever can write the chain file operates the devnet (as sudo would on a local
subtensor). Miners' and validators' own writes (commitments, weights) go through signed submissions.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import time
from pathlib import Path

from node.chain.errors import ChainWriteError, NotRegisteredError
from node.chain.local.config import (
    DEFAULT_COMMIT_RATE_LIMIT,
    DEFAULT_MAX_UIDS,
    DEFAULT_NETUID,
    DEFAULT_WEIGHTS_RATE_LIMIT,
    NetworkConfig,
)
from node.chain.local.connection import ChainFile
from node.chain.local.db import SCHEMA_VERSION, connect, create_schema, write_transaction


def create_network(
    path: Path,
    *,
    netuid: int = DEFAULT_NETUID,
    block_time: float = 12.0,
    commit_rate_limit: int = DEFAULT_COMMIT_RATE_LIMIT,
    weights_rate_limit: int = DEFAULT_WEIGHTS_RATE_LIMIT,
    max_uids: int = DEFAULT_MAX_UIDS,
    weights_version: int = 0,
    genesis_time: float | None = None,
    exist_ok: bool = False,
) -> None:
    """Create the chain file and its network row (block 0 = now, unless `genesis_time` is given)."""
    if not 0 <= netuid <= 65535:
        raise ValueError("netuid must be in 0..65535")
    if block_time < 0 or not math.isfinite(block_time):
        raise ValueError("block_time must be >= 0 seconds (0 = manual clock)")
    if min(commit_rate_limit, weights_rate_limit) < 0 or not 1 <= max_uids <= 65535:
        raise ValueError("rate limits must be >= 0 and max_uids in 1..65535")
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        create_schema(conn)
        with write_transaction(conn):
            if conn.execute("SELECT 1 FROM network WHERE id = 1").fetchone() is not None:
                if exist_ok:
                    return
                raise ChainWriteError(f"a network already exists in {path}")
            conn.execute(
                "INSERT INTO network (id, schema_version, netuid, block_time, genesis_time, block_offset, "
                "genesis_seed, commit_rate_limit, weights_rate_limit, max_uids, weights_version) "
                "VALUES (1, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                (
                    SCHEMA_VERSION,
                    netuid,
                    block_time,
                    time.time() if genesis_time is None else genesis_time,
                    secrets.token_hex(32),
                    commit_rate_limit,
                    weights_rate_limit,
                    max_uids,
                    weights_version,
                ),
            )
    finally:
        conn.close()


class LocalAdmin:
    """Operator methods mixed into `LocalChain` (which provides `_file` and `_now`)."""

    _file: ChainFile

    def _now(self) -> float:
        raise NotImplementedError

    def register(self, hotkey: str, coldkey: str = "") -> int:
        """Give `hotkey` a uid (the lowest free one); idempotent for an already registered hotkey."""

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> int:
            row = conn.execute("SELECT uid FROM neurons WHERE hotkey = ?", (hotkey,)).fetchone()
            if row is not None:
                return int(row["uid"])
            used = {int(r["uid"]) for r in conn.execute("SELECT uid FROM neurons")}
            free = next((uid for uid in range(cfg.max_uids) if uid not in used), None)
            if free is None:
                raise ChainWriteError(f"subnet is full ({cfg.max_uids} uids)")
            conn.execute(
                "INSERT INTO neurons (uid, hotkey, coldkey, registered_at) VALUES (?, ?, ?, ?)",
                (free, hotkey, coldkey, cfg.clock.block_at(self._now())),
            )
            return free

        _check_ss58(hotkey)
        return self._file.write(run)

    def set_stake(self, hotkey: str, amount: float, *, add: bool = False) -> float:
        """Set (or with `add`, increase) a registered hotkey's stake; returns the new stake."""
        if not math.isfinite(amount):
            raise ValueError("stake must be finite")

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> float:
            row = _registered(conn, hotkey)
            stake = float(row["stake"]) + amount if add else amount
            if stake < 0:
                raise ChainWriteError(f"stake would become negative ({stake})")
            conn.execute("UPDATE neurons SET stake = ? WHERE hotkey = ?", (stake, hotkey))
            return stake

        return self._file.write(run)

    def set_permit(self, hotkey: str, allowed: bool = True) -> None:
        """Grant or revoke a validator permit."""

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> None:
            _registered(conn, hotkey)
            conn.execute("UPDATE neurons SET validator_permit = ? WHERE hotkey = ?", (int(allowed), hotkey))

        self._file.write(run)

    def advance(self, blocks: int = 1) -> int:
        """Move the clock forward by `blocks` for every process; returns the new current block."""
        if blocks < 0:
            raise ValueError("the chain cannot go back in time")

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> int:
            conn.execute("UPDATE network SET block_offset = block_offset + ? WHERE id = 1", (blocks,))
            return cfg.clock.block_at(self._now()) + blocks

        return self._file.write(run)


def _registered(conn: sqlite3.Connection, hotkey: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM neurons WHERE hotkey = ?", (hotkey,)).fetchone()
    if row is None:
        raise NotRegisteredError(f"hotkey {hotkey} is not registered")
    return row


def _check_ss58(address: str) -> None:
    from bittensor.sp_core import Keypair

    try:
        Keypair(ss58_address=address)
    except (ValueError, TypeError) as err:
        raise ChainWriteError(f"not an ss58 address: {address!r} ({err})") from None
