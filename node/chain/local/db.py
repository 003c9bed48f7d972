"""The embedded chain's SQLite file: schema, connections and write transactions.

Several OS processes (a validator, miners, the CLI) open the same file. WAL mode lets readers proceed
while one writer commits; `busy_timeout` makes a second writer wait instead of failing; every write runs
in `BEGIN IMMEDIATE` so its rule checks (rate limits, uid assignment) and its effects are one atomic step.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open the chain file in autocommit mode (transactions are explicit) with a busy timeout."""
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    """Switch to WAL (persistent in the file) and create the tables."""
    mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"could not enable WAL mode (got {mode!r})")
    conn.executescript(SCHEMA)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A deferred transaction: several SELECTs see one consistent snapshot."""
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")
