"""A stand-in for the bittensor 11 blocking client (`bt.Subtensor`) that records calls and replays answers.

Only the surface `node.chain.subtensor.SubtensorChain` uses is implemented. `FakeNetwork` holds the chain
state and a script of errors; every `connect()` (the factory) makes a new `FakeClient` over the same
network, so tests can count reconnects.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import bittensor as bt


class FakeNetwork:
    """Chain state, a script of errors per method, and the log of every call made by any client."""

    def __init__(self) -> None:
        self.head = 100
        self.neurons: list[SimpleNamespace] = []
        self.commitments: dict[str, SimpleNamespace] = {}
        self.weights: dict[int, dict[int, float]] = {}
        self.subnet_exists = True
        self.calls: list[tuple[str, tuple, dict]] = []
        self.errors: dict[str, list[BaseException]] = defaultdict(list)
        self.write_results: list[bt.ExtrinsicResult] = []
        self.clients = 0
        self.closed = 0

    def fail(self, method: str, *errors: BaseException) -> None:
        """The next calls of `method` raise these errors, in order."""
        self.errors[method].extend(errors)

    def add_neuron(self, uid: int, hotkey: str, stake: float, permit: bool, last_update: int = 0) -> None:
        self.neurons.append(
            SimpleNamespace(
                uid=uid,
                hotkey=hotkey,
                coldkey="5Cold" + hotkey[5:10],
                total_stake=bt.Balance.from_tao(stake),
                validator_permit=permit,
                last_update=last_update,
            )
        )

    def add_commitment(self, uid: int | None, hotkey: str, data: str, block: int, encrypted: bool = False) -> None:
        self.commitments[hotkey] = SimpleNamespace(
            hotkey=hotkey, uid=uid, data=data, block=block, encrypted=encrypted
        )

    def connect(self) -> FakeClient:
        """The client factory handed to `SubtensorChain`."""
        self.clients += 1
        return FakeClient(self)

    def record(self, method: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((method, args, kwargs))
        if self.errors[method]:
            raise self.errors[method].pop(0)

    def methods(self) -> list[str]:
        return [name for name, _, _ in self.calls]


class _Namespace:
    def __init__(self, network: FakeNetwork, prefix: str) -> None:
        self._network = network
        self._prefix = prefix


class _Subnets(_Namespace):
    def metagraph(self, netuid: int, block: int | None = None, *, commitments: bool = True) -> Any:
        self._network.record("subnets.metagraph", netuid, block=block, commitments=commitments)
        if not self._network.subnet_exists:
            return None
        return SimpleNamespace(block=self._network.head, neurons=list(self._network.neurons))

    def commitments(self, netuid: int, block: int | None = None) -> dict[str, Any]:
        self._network.record("subnets.commitments", netuid, block=block)
        return {h: c for h, c in self._network.commitments.items() if block is None or c.block <= block}


class _Identity(_Namespace):
    def commitment(self, netuid: int, hotkey_ss58: str, *, block: int | None = None) -> Any:
        self._network.record("identity.commitment", netuid, hotkey_ss58, block=block)
        found = self._network.commitments.get(hotkey_ss58)
        if found is None:
            return None
        return bt.Commitment(block=found.block, deposit=bt.Balance(0), data=found.data, fields=[])


class _Weights(_Namespace):
    def weights(self, netuid: int, mechid: int = 0, *, block: int | None = None) -> dict[int, dict[int, float]]:
        self._network.record("weights.weights", netuid, mechid=mechid, block=block)
        return {v: dict(row) for v, row in self._network.weights.items()}


class FakeClient:
    """One connection: what `bt.Subtensor(network)` would be."""

    def __init__(self, network: FakeNetwork) -> None:
        self._network = network
        self.subnets = _Subnets(network, "subnets")
        self.identity = _Identity(network, "identity")
        self.weights = _Weights(network, "weights")

    @property
    def block(self) -> int:
        self._network.record("block")
        return self._network.head

    def block_info(self, block: int | None = None) -> Any:
        self._network.record("block_info", block)
        if block is not None and block > self._network.head:
            return None
        return SimpleNamespace(number=block, hash=f"0x{block:064x}")

    def submit_call(self, call: Any, wallet: Any, **kwargs: Any) -> bt.ExtrinsicResult:
        self._network.record("submit_call", call, wallet, **kwargs)
        return self._result()

    def execute(self, intent: Any, wallet: Any, **kwargs: Any) -> bt.ExtrinsicResult:
        self._network.record("execute", intent, wallet, **kwargs)
        return self._result()

    def _result(self) -> bt.ExtrinsicResult:
        if self._network.write_results:
            return self._network.write_results.pop(0)
        self._network.head += 1
        return bt.ExtrinsicResult(success=True, message="included", block_hash="0x" + "ab" * 32)

    def close(self) -> None:
        self._network.closed += 1
