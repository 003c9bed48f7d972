"""The embedded chain's SQLite file: schema, connections and write transactions.

Several OS processes (a validator, miners, the CLI) open the same file. WAL mode lets readers proceed
while one writer commits; `busy_timeout` makes a second writer wait instead of failing; every write runs
in `BEGIN IMMEDIATE` so its rule checks (rate limits, uid assignment) and its effects are one atomic step.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from node import sqlite

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 15_000

SCHEMA = """
CREATE TABLE IF NOT EXISTS network (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    schema_version INTEGER NOT NULL,
    netuid INTEGER NOT NULL,
    block_time REAL NOT NULL,          -- seconds per block; 0 = the clock only moves by `advance`
    genesis_time REAL NOT NULL,        -- unix time of block 0
    block_offset INTEGER NOT NULL,     -- blocks added by hand (`advance`)
    genesis_seed TEXT NOT NULL,        -- hex; keys the deterministic block hashes
    commit_rate_limit INTEGER NOT NULL,
    weights_rate_limit INTEGER NOT NULL,
    max_uids INTEGER NOT NULL,
    weights_version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS neurons (
    uid INTEGER PRIMARY KEY,
    hotkey TEXT NOT NULL UNIQUE,
    coldkey TEXT NOT NULL DEFAULT '',
    stake REAL NOT NULL DEFAULT 0,
    validator_permit INTEGER NOT NULL DEFAULT 0,
    registered_at INTEGER NOT NULL,
    weights_block INTEGER                -- block of the last accepted set_weights, NULL if never
);
CREATE TABLE IF NOT EXISTS commitments (
    hotkey TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commitment_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    hotkey TEXT NOT NULL,
    data TEXT NOT NULL,
    block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS weights (
    validator_uid INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    value INTEGER NOT NULL,             -- u16, max-upscaled
    PRIMARY KEY (validator_uid, uid)
);
CREATE TABLE IF NOT EXISTS weight_sets (
    validator_uid INTEGER PRIMARY KEY,
    block INTEGER NOT NULL,
    version_key INTEGER NOT NULL
);
""" + "\n"

# Every accepted set_weights, oldest first: the devnet's audit trail (a test reads it to check that no round's
# weights were written twice). Created by the first weight write too, so chain files made before it gain it.
WEIGHT_HISTORY = """
CREATE TABLE IF NOT EXISTS weight_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    validator_uid INTEGER NOT NULL,
    block INTEGER NOT NULL,
    version_key INTEGER NOT NULL,
    weights_json TEXT NOT NULL              -- {uid: u16 value} as written
);
"""
SCHEMA += WEIGHT_HISTORY


def connect(path: Path) -> sqlite3.Connection:
    """Open the chain file (WAL is switched on by `create_schema`, and persists in the file)."""
    return sqlite.connect(path, busy_timeout_s=BUSY_TIMEOUT_MS / 1000, wal=False)


def create_schema(conn: sqlite3.Connection) -> None:
    """Switch to WAL (persistent in the file) and create the tables."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"could not enable WAL mode (got {mode!r})")
    conn.executescript(SCHEMA)


write_transaction = sqlite.write_transaction
read_transaction = sqlite.read_transaction
