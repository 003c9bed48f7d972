"""The one chain interface the node uses; an embedded SQLite chain and the Bittensor SDK implement it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from node.chain.types import Commitment, HotkeyWallet, Metagraph


class Chain(ABC):
    """A subnet as the node sees it.

    Reads raise `ChainReadError` when the chain cannot be read; `commitment()` returns None only when the
    chain answered that the hotkey has no commitment. Writes raise a `ChainWriteError` subclass.
    """

    netuid: int

    @abstractmethod
    def block(self) -> int:
        """The current block number."""

    @abstractmethod
    def block_hash(self, block: int | None = None) -> str:
        """The 0x-prefixed hex hash of `block` (default: current); seeds deterministic choices."""

    @abstractmethod
    def metagraph(self, block: int | None = None) -> Metagraph:
        """Registered neurons with stakes, permits and last updates (at `block`, default: now).

        Pinning reads to a block is what lets validators started at different times see the same round.
        """

    @abstractmethod
    def commitments(self, block: int | None = None) -> dict[str, Commitment]:
        """Every commitment on the subnet as of `block` (default: now), keyed by hotkey."""

    @abstractmethod
    def commitment(self, hotkey: str) -> Commitment | None:
        """The hotkey's current commitment, or None if it has none."""

    @abstractmethod
    def weights(self) -> dict[int, dict[int, float]]:
        """Current weights as `{validator_uid: {uid: fraction}}`, each row summing to 1."""

    @abstractmethod
    def commit(self, wallet: HotkeyWallet, data: str) -> int:
        """Publish `data` as the wallet hotkey's commitment; returns the block it landed in."""

    @abstractmethod
    def set_weights(self, wallet: HotkeyWallet, weights: Mapping[int, float], version_key: int = 0) -> int:
        """Set the wallet hotkey's weights (relative values per uid); returns the block."""

    def close(self) -> None:  # noqa: B027 - optional hook, most implementations hold nothing
        """Release connections; the object must not be used afterwards."""
