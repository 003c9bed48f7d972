"""The embedded network's parameters, stored in the chain file's single `network` row."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from node.chain.local.clock import BlockClock

# Defaults follow finney's order of magnitude; tests and the devnet pass smaller ones.
DEFAULT_NETUID = 29
DEFAULT_COMMIT_RATE_LIMIT = 100  # blocks between two commitments of one hotkey
DEFAULT_WEIGHTS_RATE_LIMIT = 100  # blocks between two weight sets of one validator
DEFAULT_MAX_UIDS = 256
MAX_COMMITMENT_BYTES = 128  # the chain's Raw commitment field size


@dataclass(frozen=True)
class NetworkConfig:
    """One embedded network: subnet id, clock, and the rule parameters."""

    netuid: int
    block_time: float
    genesis_time: float
    block_offset: int
    genesis_seed: str
    commit_rate_limit: int
    weights_rate_limit: int
    max_uids: int
    weights_version: int

    @property
    def clock(self) -> BlockClock:
        return BlockClock(self.genesis_time, self.block_time, self.block_offset)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> NetworkConfig:
        return cls(
            netuid=int(row["netuid"]),
            block_time=float(row["block_time"]),
            genesis_time=float(row["genesis_time"]),
            block_offset=int(row["block_offset"]),
            genesis_seed=str(row["genesis_seed"]),
            commit_rate_limit=int(row["commit_rate_limit"]),
            weights_rate_limit=int(row["weights_rate_limit"]),
            max_uids=int(row["max_uids"]),
            weights_version=int(row["weights_version"]),
        )


def load(conn: sqlite3.Connection) -> NetworkConfig:
    """Read the network row; `LookupError` if the file holds no network."""
    row = conn.execute("SELECT * FROM network WHERE id = 1").fetchone()
    if row is None:
        raise LookupError("the chain file holds no network (run `python -m node.chain init`)")
    return NetworkConfig.from_row(row)
