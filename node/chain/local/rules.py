"""The embedded chain's runtime: the checks and effects of each write, run inside one transaction.

Modelled on subtensor's rules that matter to this subnet: one current commitment per hotkey with a
per-hotkey rate limit; weights only from registered validators holding a permit, rate limited, with a
minimum version key, stored max-upscaled to u16.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping

from node.chain.errors import (
    ChainWriteError,
    InvalidWeightsError,
    NotRegisteredError,
    PermissionDeniedError,
    RateLimitedError,
)
from node.chain.local.config import MAX_COMMITMENT_BYTES, NetworkConfig
from node.chain.local.db import WEIGHT_HISTORY
from node.chain.weights import quantize_weights


def _neuron(conn: sqlite3.Connection, hotkey: str) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM neurons WHERE hotkey = ?", (hotkey,)).fetchone()
    if row is None:
        raise NotRegisteredError(f"hotkey {hotkey} is not registered on this subnet")
    return row


def apply_commit(conn: sqlite3.Connection, cfg: NetworkConfig, block: int, hotkey: str, data: str) -> None:
    """Replace the hotkey's commitment with `data` at `block`."""
    _neuron(conn, hotkey)
    if not isinstance(data, str) or not data:
        raise ChainWriteError("commitment data must be a non-empty string")
    if len(data.encode()) > MAX_COMMITMENT_BYTES:
        raise ChainWriteError(f"commitment is {len(data.encode())} bytes; at most {MAX_COMMITMENT_BYTES}")
    previous = conn.execute("SELECT block FROM commitments WHERE hotkey = ?", (hotkey,)).fetchone()
    if previous is not None and block - int(previous["block"]) < cfg.commit_rate_limit:
        retry_at = int(previous["block"]) + cfg.commit_rate_limit
        raise RateLimitedError(
            f"hotkey {hotkey} committed at block {previous['block']}; next commitment allowed at {retry_at}",
            retry_at,
        )
    conn.execute(
        "INSERT INTO commitments (hotkey, data, block) VALUES (?, ?, ?) "
        "ON CONFLICT(hotkey) DO UPDATE SET data = excluded.data, block = excluded.block",
        (hotkey, data, block),
    )
    conn.execute(
        "INSERT INTO commitment_history (hotkey, data, block) VALUES (?, ?, ?)", (hotkey, data, block)
    )


def apply_weights(
    conn: sqlite3.Connection,
    cfg: NetworkConfig,
    block: int,
    hotkey: str,
    weights: Mapping[int, float],
    version_key: int,
) -> None:
    """Replace the validator's weight row."""
    neuron = _neuron(conn, hotkey)
    if not neuron["validator_permit"]:
        raise PermissionDeniedError(f"hotkey {hotkey} (uid {neuron['uid']}) has no validator permit")
    if version_key < cfg.weights_version:
        raise InvalidWeightsError(f"version key {version_key} is below the required {cfg.weights_version}")
    last = neuron["weights_block"]
    if last is not None and block - int(last) < cfg.weights_rate_limit:
        retry_at = int(last) + cfg.weights_rate_limit
        raise RateLimitedError(f"uid {neuron['uid']} set weights at block {last}; next at {retry_at}", retry_at)
    quantized = quantize_weights(weights)
    if not quantized:
        raise InvalidWeightsError("all weights are zero")
    known = {int(r["uid"]) for r in conn.execute("SELECT uid FROM neurons")}
    unknown = sorted(set(quantized) - known)
    if unknown:
        raise InvalidWeightsError(f"weights for unregistered uids {unknown[:10]}")
    uid = int(neuron["uid"])
    conn.execute("DELETE FROM weights WHERE validator_uid = ?", (uid,))
    conn.executemany(
        "INSERT INTO weights (validator_uid, uid, value) VALUES (?, ?, ?)",
        [(uid, target, value) for target, value in quantized.items()],
    )
    conn.execute(
        "INSERT INTO weight_sets (validator_uid, block, version_key) VALUES (?, ?, ?) "
        "ON CONFLICT(validator_uid) DO UPDATE SET block = excluded.block, version_key = excluded.version_key",
        (uid, block, version_key),
    )
    conn.execute("UPDATE neurons SET weights_block = ? WHERE uid = ?", (block, uid))
    conn.execute(WEIGHT_HISTORY)
    conn.execute("INSERT INTO weight_history (validator_uid, block, version_key, weights_json) VALUES (?, ?, ?, ?)",
                 (uid, block, version_key, json.dumps({str(k): v for k, v in sorted(quantized.items())})))
