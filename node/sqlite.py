"""The one SQLite helper of the node: connections in explicit-transaction mode and the two transaction shapes.

Every database the node keeps (the embedded chain, the sample cache, the validator's state) is shared by
processes and must survive `kill -9` at any instant, so all of them use the same rules: WAL journal, a busy
timeout so a second writer waits instead of failing, `BEGIN IMMEDIATE` for every write so its checks and
its effects are one atomic step, and a deferred `BEGIN` for reads that must see one snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_BUSY_TIMEOUT_S = 15.0


def connect(
    path: Path | str, *, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S, wal: bool = True
) -> sqlite3.Connection:
    """Open `path` in autocommit mode (transactions are explicit), rows as `sqlite3.Row`, WAL if asked."""
    conn = sqlite3.connect(str(path), timeout=busy_timeout_s, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
    if wal:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"could not enable WAL mode on {path} (got {mode!r})")
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` ... `COMMIT`, rolled back on any exception (the write lock is taken up front)."""
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
