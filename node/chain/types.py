"""Plain data returned by every chain implementation, so callers never see SDK or SQL types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Keypair(Protocol):
    """The part of a bittensor keypair a chain write needs."""

    @property
    def ss58_address(self) -> str: ...

    def sign(self, message: bytes) -> bytes: ...


class HotkeyWallet(Protocol):
    """Anything with a `.hotkey` keypair: `bittensor.Wallet` fits."""

    @property
    def hotkey(self) -> Keypair: ...


@dataclass(frozen=True)
class Neuron:
    """One registered hotkey: its uid, stake (in the chain's unit), validator permit, last weights block."""

    uid: int
    hotkey: str
    stake: float
    validator_permit: bool
    last_update: int
    coldkey: str = ""


@dataclass(frozen=True)
class Commitment:
    """A hotkey's current commitment string and the block it was made at."""

    hotkey: str
    data: str
    block: int
    uid: int | None = None


@dataclass(frozen=True)
class Metagraph:
    """A snapshot of the subnet at `block`."""

    netuid: int
    block: int
    neurons: tuple[Neuron, ...]
    _by_hotkey: dict[str, Neuron] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_hotkey", {n.hotkey: n for n in self.neurons})

    @property
    def hotkeys(self) -> list[str]:
        return [n.hotkey for n in self.neurons]

    @property
    def uids(self) -> list[int]:
        return [n.uid for n in self.neurons]

    def neuron(self, hotkey: str) -> Neuron | None:
        """The neuron registered with `hotkey`, or None."""
        return self._by_hotkey.get(hotkey)

    def uid_of(self, hotkey: str) -> int | None:
        neuron = self._by_hotkey.get(hotkey)
        return None if neuron is None else neuron.uid

    def validators(self) -> list[Neuron]:
        """Neurons holding a validator permit."""
        return [n for n in self.neurons if n.validator_permit]
