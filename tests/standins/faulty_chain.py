"""A fault-injecting wrapper around a real `Chain`: chosen calls fail, a write lands with its answer lost, the
head block goes backwards (a reconnect to a lagging node).

Faults are injected at the `Chain` interface, the boundary the validator sees: a read fails as
`ChainReadError` (what `SubtensorChain` turns a timeout or a dropped connection into), a write as
`ChainWriteError`. Every call is counted by method, and every write that reached the real chain is listed
(`landed`), so a test can count retries and prove that nothing was written twice. `from_env` builds the
wrapper inside a daemon process from `$SN29_CHAIN_FAULTS` (JSON), appending each landed write to a log file.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from node.chain import Chain, ChainReadError, ChainWriteError

READS = ("block", "block_hash", "metagraph", "commitments", "commitment", "weights")
WRITES = ("commit", "set_weights")
FAULTS_ENV = "SN29_CHAIN_FAULTS"


class FaultyChain(Chain):
    """`chain` with scripted failures: `fail(method, times)`, `lose_answers(times)`, `probability` per call."""

    def __init__(self, chain: Chain, *, probability: float = 0.0, seed: int = 0, methods: tuple[str, ...] = READS,
                 write_log: Path | None = None) -> None:
        self.inner = chain
        self.netuid = chain.netuid
        self.probability = probability
        self.random = random.Random(seed)
        self.random_methods = methods
        self.failures: Counter[str] = Counter()  # method -> calls still to fail
        self.lost_answers = 0  # writes still to land with their answer lost
        self.unreadable_after_loss = False
        self.block_offset = 0  # subtracted from the head block (a node behind the one before)
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.landed: list[tuple[str, dict[int, float]]] = []
        self.write_log = write_log

    # -- the script ------------------------------------------------------------------------------------

    def fail(self, method: str, times: int = 1) -> None:
        if method not in READS + WRITES:
            raise ValueError(f"unknown chain method {method!r}")
        self.failures[method] += times

    def heal(self) -> None:
        self.failures.clear()
        self.probability = 0.0
        self.unreadable_after_loss = False

    def lose_answers(self, times: int = 1, *, then_unreadable: bool = False) -> None:
        """The next `times` writes land but raise; `then_unreadable`: and every read fails from then on
        (until `heal`), so the validator cannot look whether the write landed."""
        self.lost_answers += times
        self.unreadable_after_loss = then_unreadable

    def _gate(self, method: str) -> None:
        self.calls[method] += 1
        scripted = self.failures[method] > 0
        if scripted:
            self.failures[method] -= 1
        elif not (self.probability and method in self.random_methods and self.random.random() < self.probability):
            return
        self.injected[method] += 1
        if method in WRITES:
            raise ChainWriteError(f"{method}: connection reset by peer before inclusion")
        raise ChainReadError(f"{method}: rpc timed out (injected)")

    # -- reads -----------------------------------------------------------------------------------------

    def block(self) -> int:
        self._gate("block")
        return self.inner.block() - self.block_offset

    def block_hash(self, block: int | None = None) -> str:
        self._gate("block_hash")
        return self.inner.block_hash(block)

    def metagraph(self, block: int | None = None):
        self._gate("metagraph")
        return self.inner.metagraph(block)

    def commitments(self, block: int | None = None):
        self._gate("commitments")
        return self.inner.commitments(block)

    def commitment(self, hotkey: str):
        self._gate("commitment")
        return self.inner.commitment(hotkey)

    def weights(self):
        self._gate("weights")
        return self.inner.weights()

    # -- writes ----------------------------------------------------------------------------------------

    def commit(self, wallet: Any, data: str) -> int:
        self._gate("commit")
        return self.inner.commit(wallet, data)

    def set_weights(self, wallet: Any, weights: Mapping[int, float], version_key: int = 0) -> int:
        self._gate("set_weights")
        block = self.inner.set_weights(wallet, weights, version_key=version_key)
        self._landed("set_weights", weights)
        if self.lost_answers > 0:
            self.lost_answers -= 1
            self.injected["lost_answer"] += 1
            if self.unreadable_after_loss:
                for method in READS:
                    self.failures[method] = 10**9
            raise ChainWriteError("set_weights: timed out waiting for the inclusion answer")
        return block

    def _landed(self, method: str, weights: Mapping[int, float]) -> None:
        row = {int(u): float(w) for u, w in weights.items()}
        self.landed.append((method, row))
        if self.write_log is not None:
            with self.write_log.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps({"method": method, "weights": row}) + "\n")

    def close(self) -> None:
        self.inner.close()


def from_env(chain: Chain) -> Chain:
    """Wrap `chain` as `$SN29_CHAIN_FAULTS` says: {"fail": {method: times}, "lose_answers": n, "log": path}."""
    spec = json.loads(os.environ.get(FAULTS_ENV) or "{}")
    if not spec:
        return chain
    faulty = FaultyChain(chain, write_log=Path(spec["log"]) if spec.get("log") else None)
    for method, times in spec.get("fail", {}).items():
        faulty.fail(method, int(times))
    faulty.lose_answers(int(spec.get("lose_answers", 0)))
    return faulty
