"""`LocalChain`: the embedded default chain, a SQLite file shared by every process of a devnet."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from node.chain.base import Chain
from node.chain.errors import ChainReadError, ChainWriteError, InvalidWeightsError
from node.chain.local import admin, rules, signing
from node.chain.local.admin import LocalAdmin
from node.chain.local.clock import block_hash
from node.chain.local.config import NetworkConfig
from node.chain.local.connection import ChainFile
from node.chain.types import Commitment, HotkeyWallet, Metagraph, Neuron
from node.chain.weights import fractions, quantize_weights


class LocalChain(LocalAdmin, Chain):
    """A subnet stored in one SQLite file (see `node.chain.local.db`).

    Writes from miners and validators are signed with their bittensor hotkey and verified here, so a
    process can only commit or set weights for hotkeys whose keys it holds, as on the real chain.
    """

    def __init__(self, path: str | os.PathLike[str], *, now: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._file = ChainFile(self.path)
        self._clock_now = now
        self.netuid = self.network().netuid

    @classmethod
    def create(cls, path: str | os.PathLike[str], **params: object) -> LocalChain:
        """Create a network (see `admin.create_network` for parameters) and open it."""
        admin.create_network(Path(path), **params)  # type: ignore[arg-type]
        return cls(path)

    def _now(self) -> float:
        return self._clock_now()

    def network(self) -> NetworkConfig:
        """The network's parameters (netuid, clock, rate limits)."""
        return self._file.read(lambda conn, cfg: cfg)

    # -- reads -----------------------------------------------------------------------------------------

    def block(self) -> int:
        return self._file.read(lambda conn, cfg: cfg.clock.block_at(self._now()))

    def block_hash(self, block: int | None = None) -> str:
        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> str:
            current = cfg.clock.block_at(self._now())
            target = current if block is None else block
            if not 0 <= target <= current:
                raise ChainReadError(f"block {target} is not produced yet (current {current})")
            return block_hash(cfg.genesis_seed, target)

        return self._file.read(run)

    def metagraph(self, block: int | None = None) -> Metagraph:
        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> Metagraph:
            at = _pinned(cfg.clock.block_at(self._now()), block)
            rows = conn.execute("SELECT * FROM neurons WHERE registered_at <= ? ORDER BY uid", (at,)).fetchall()
            neurons = tuple(
                Neuron(
                    uid=int(r["uid"]),
                    hotkey=str(r["hotkey"]),
                    stake=float(r["stake"]),
                    validator_permit=bool(r["validator_permit"]),
                    last_update=int(r["weights_block"] if r["weights_block"] is not None else r["registered_at"]),
                    coldkey=str(r["coldkey"]),
                )
                for r in rows
            )
            return Metagraph(cfg.netuid, at, neurons)

        return self._file.read(run)

    def commitments(self, block: int | None = None) -> dict[str, Commitment]:
        """Current commitments, or (with `block`) the latest one of each hotkey made at or before `block`.

        Stakes and permits are not versioned by the embedded chain: a pinned metagraph has the neurons
        registered by then with their current stakes, which is all the validator's rounds need.
        """

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> dict[str, Commitment]:
            if block is None:
                rows = conn.execute(
                    "SELECT c.hotkey, c.data, c.block, n.uid FROM commitments c "
                    "LEFT JOIN neurons n ON n.hotkey = c.hotkey ORDER BY c.block, c.hotkey"
                ).fetchall()
            else:
                at = _pinned(cfg.clock.block_at(self._now()), block)
                rows = conn.execute(
                    "SELECT h.hotkey, h.data, h.block, n.uid FROM commitment_history h "
                    "LEFT JOIN neurons n ON n.hotkey = h.hotkey "
                    "WHERE h.id = (SELECT MAX(id) FROM commitment_history WHERE hotkey = h.hotkey AND block <= ?) "
                    "ORDER BY h.block, h.hotkey",
                    (at,),
                ).fetchall()
            return {r["hotkey"]: _commitment(r) for r in rows}

        return self._file.read(run)

    def commitment(self, hotkey: str) -> Commitment | None:
        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> Commitment | None:
            row = conn.execute(
                "SELECT c.hotkey, c.data, c.block, n.uid FROM commitments c "
                "LEFT JOIN neurons n ON n.hotkey = c.hotkey WHERE c.hotkey = ?",
                (hotkey,),
            ).fetchone()
            return None if row is None else _commitment(row)

        return self._file.read(run)

    def commitment_history(self, hotkey: str | None = None) -> list[Commitment]:
        """Every commitment ever accepted (oldest first): the devnet's audit trail."""

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> list[Commitment]:
            sql = "SELECT h.hotkey, h.data, h.block, n.uid FROM commitment_history h "
            sql += "LEFT JOIN neurons n ON n.hotkey = h.hotkey"
            args: tuple[str, ...] = ()
            if hotkey is not None:
                sql, args = sql + " WHERE h.hotkey = ?", (hotkey,)
            return [_commitment(r) for r in conn.execute(sql + " ORDER BY h.id", args)]

        return self._file.read(run)

    def weights(self) -> dict[int, dict[int, float]]:
        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> dict[int, dict[int, float]]:
            rows: dict[int, dict[int, int]] = {}
            for r in conn.execute("SELECT validator_uid, uid, value FROM weights ORDER BY validator_uid, uid"):
                rows.setdefault(int(r["validator_uid"]), {})[int(r["uid"])] = int(r["value"])
            return {validator: fractions(row) for validator, row in rows.items()}

        return self._file.read(run)

    def weight_history(self, validator_uid: int | None = None) -> list[tuple[int, int, dict[int, float]]]:
        """Every accepted set_weights as `(validator uid, block, {uid: fraction})`, oldest first."""

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> list[tuple[int, int, dict[int, float]]]:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'weight_history'").fetchone() is None:
                return []  # a chain file from before the table that never had a weight write since
            sql, args = "SELECT * FROM weight_history", ()
            if validator_uid is not None:
                sql, args = sql + " WHERE validator_uid = ?", (validator_uid,)
            rows = conn.execute(sql + " ORDER BY id", args).fetchall()
            return [(int(r["validator_uid"]), int(r["block"]),
                     fractions({int(k): int(v) for k, v in json.loads(r["weights_json"]).items()})) for r in rows]

        return self._file.read(run)

    # -- signed writes -----------------------------------------------------------------------------------

    def commit(self, wallet: HotkeyWallet, data: str) -> int:
        return self.submit(self._sign(wallet, "commit", {"data": data}))

    def set_weights(self, wallet: HotkeyWallet, weights: Mapping[int, float], version_key: int = 0) -> int:
        quantize_weights(weights)  # reject non-finite / negative values before they reach the signer
        body = {"weights": [[int(uid), float(w)] for uid, w in sorted(weights.items())], "version_key": version_key}
        return self.submit(self._sign(wallet, "set_weights", body))

    def _sign(self, wallet: HotkeyWallet, op: str, body: dict) -> signing.SignedWrite:
        cfg = self.network()
        return signing.sign(wallet.hotkey, cfg.genesis_seed, cfg.netuid, op, self.block(), body)

    def submit(self, write: signing.SignedWrite) -> int:
        """Verify and apply a signed write atomically; returns the block it was applied at."""

        def run(conn: sqlite3.Connection, cfg: NetworkConfig) -> int:
            block = cfg.clock.block_at(self._now())
            signing.verify(write, cfg.genesis_seed, cfg.netuid, block)
            if not isinstance(write.body, dict):
                raise ChainWriteError("write body must be an object")
            if write.op == "commit":
                rules.apply_commit(conn, cfg, block, write.hotkey, write.body.get("data"))
            elif write.op == "set_weights":
                try:
                    weights = {int(uid): float(w) for uid, w in write.body["weights"]}
                    version_key = int(write.body["version_key"])
                except (KeyError, TypeError, ValueError) as err:
                    raise InvalidWeightsError(f"malformed weights body: {err}") from None
                rules.apply_weights(conn, cfg, block, write.hotkey, weights, version_key)
            else:
                raise ChainWriteError(f"unknown operation {write.op!r}")
            return block

        return self._file.write(run)

    def close(self) -> None:
        self._file.close()


def _pinned(current: int, block: int | None) -> int:
    """The block a read is pinned to; a block not produced yet is a read error, as on a real chain."""
    if block is None:
        return current
    if not 0 <= block <= current:
        raise ChainReadError(f"block {block} is not produced yet (current {current})")
    return block


def _commitment(row: sqlite3.Row) -> Commitment:
    uid = row["uid"]
    return Commitment(str(row["hotkey"]), str(row["data"]), int(row["block"]), None if uid is None else int(uid))
