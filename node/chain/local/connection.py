"""Process-safe access to the chain file: one connection per process, errors mapped to chain errors."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from node.chain.errors import ChainError, ChainReadError, ChainWriteError
from node.chain.local import config as netconfig
from node.chain.local.config import NetworkConfig
from node.chain.local.db import connect, read_transaction, write_transaction

T = TypeVar("T")


class ChainFile:
    """The SQLite file behind a `LocalChain`.

    A connection is opened lazily per process (SQLite connections must not cross `fork`), guarded by a lock
    so threads can share one `LocalChain`. `read` maps any SQLite failure to `ChainReadError` and `write`
    to `ChainWriteError`, so callers only ever see chain errors.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            if not self.path.is_file():
                raise ChainReadError(
                    f"no local chain at {self.path} (create one with `python -m node.chain init`)"
                )
            self._conn = connect(self.path)
            self._pid = os.getpid()
        return self._conn

    def read(self, fn: Callable[[sqlite3.Connection, NetworkConfig], T]) -> T:
        """Run `fn(conn, network)` in one consistent read snapshot."""
        with self._lock:
            try:
                conn = self._connection()
                with read_transaction(conn):
                    return fn(conn, netconfig.load(conn))
            except ChainError:
                raise
            except (sqlite3.Error, LookupError, ValueError) as err:
                raise ChainReadError(f"reading {self.path}: {err}") from err

    def write(self, fn: Callable[[sqlite3.Connection, NetworkConfig], T]) -> T:
        """Run `fn(conn, network)` in one `BEGIN IMMEDIATE` transaction."""
        with self._lock:
            try:
                conn = self._connection()
                with write_transaction(conn):
                    return fn(conn, netconfig.load(conn))
            except ChainError:
                raise
            except (sqlite3.Error, LookupError) as err:
                raise ChainWriteError(f"writing {self.path}: {err}") from err

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
