"""Local SQLite store of fetched samples, so a restart or the next round does not refetch.

Why SQLite with WAL: a validator and a CLI (or two validator processes) may read and write the
same file at once; WAL lets readers proceed during a write, `BEGIN IMMEDIATE` serialises writers
up front instead of failing mid-transaction, and a busy timeout turns contention into waiting.
Rows are never updated in place: a sample id always means the same text, so the first writer
wins (`INSERT OR IGNORE`) and a racing second fetch of the same page is harmless.

Pages record "this remote page was fetched" separately from its rows, so a page whose rows were
all unusable (empty text) is still a cache hit and is not fetched again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

from node import sqlite
from node.data.sample import Sample

_SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    page TEXT,
    ord INTEGER,
    fetched_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_page ON samples(page, ord);
CREATE TABLE IF NOT EXISTS pages (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    n_rows INTEGER NOT NULL,
    fetched_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


def default_cache_path() -> Path:
    """`<node cache>/data/samples.sqlite`."""
    from node.paths import cache_dir

    return cache_dir() / "data" / "samples.sqlite"


class SampleCache:
    """One connection to the sample store; use one instance per thread."""

    def __init__(self, path: Path | str, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite.connect(self.path, busy_timeout_s=busy_timeout_s)
        with self._write() as cur:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """One write transaction, taking the write lock at BEGIN (no mid-transaction deadlock)."""
        return sqlite.write_transaction(self._conn)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> SampleCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- pages ---------------------------------------------------------------------------------
    def get_page(self, key: str) -> list[Sample] | None:
        """The samples of a fetched page in row order, or None if the page was never fetched."""
        if self._conn.execute("SELECT 1 FROM pages WHERE key = ?", (key,)).fetchone() is None:
            return None
        rows = self._conn.execute("SELECT id, text, source FROM samples WHERE page = ? ORDER BY ord", (key,)).fetchall()
        return [Sample(id=r[0], text=r[1], source=r[2]) for r in rows]

    def put_page(self, key: str, source: str, samples: Sequence[Sample], fetched_at: float | None = None) -> None:
        """Store a page and its samples atomically (a crash leaves either all or nothing)."""
        now = time.time() if fetched_at is None else fetched_at
        with self._write() as cur:
            cur.executemany(
                "INSERT OR IGNORE INTO samples (id, source, text, page, ord, fetched_at) VALUES (?,?,?,?,?,?)",
                [(s.id, s.source, s.text, key, i, now) for i, s in enumerate(samples)],
            )
            cur.execute(
                "INSERT OR REPLACE INTO pages (key, source, n_rows, fetched_at) VALUES (?,?,?,?)",
                (key, source, len(samples), now),
            )

    # -- samples by id -------------------------------------------------------------------------
    def get(self, ids: Iterable[str]) -> dict[str, Sample]:
        """Cached samples among `ids` (missing ids are simply absent)."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, Sample] = {}
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._conn.execute(f"SELECT id, text, source FROM samples WHERE id IN ({marks})", batch).fetchall()
            found.update({r[0]: Sample(id=r[0], text=r[1], source=r[2]) for r in rows})
        return found

    def put(self, samples: Iterable[Sample], fetched_at: float | None = None) -> None:
        """Store samples not tied to a remote page (e.g. a round's picks from any source)."""
        now = time.time() if fetched_at is None else fetched_at
        with self._write() as cur:
            cur.executemany(
                "INSERT OR IGNORE INTO samples (id, source, text, fetched_at) VALUES (?,?,?,?)",
                [(s.id, s.source, s.text, now) for s in samples],
            )

    def fetched_at(self, sample_id: str) -> float | None:
        row = self._conn.execute("SELECT fetched_at FROM samples WHERE id = ?", (sample_id,)).fetchone()
        return None if row is None else float(row[0])

    # -- small key/value state -----------------------------------------------------------------
    def get_meta(self, key: str) -> tuple[str, float] | None:
        """(value, updated_at) or None."""
        row = self._conn.execute("SELECT value, updated_at FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else (row[0], float(row[1]))

    def set_meta(self, key: str, value: str, updated_at: float | None = None) -> None:
        now = time.time() if updated_at is None else updated_at
        with self._write() as cur:
            cur.execute("INSERT OR REPLACE INTO meta (key, value, updated_at) VALUES (?,?,?)", (key, value, now))

    def stats(self) -> dict[str, int]:
        """Counts, for logs and the CLI."""
        n_samples = self._conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        n_pages = self._conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0]
        return {"samples": int(n_samples), "pages": int(n_pages)}
