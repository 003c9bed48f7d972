"""Worker functions run in separate OS processes against one embedded chain file (spawn-safe)."""

from __future__ import annotations

from bittensor.sp_core import Keypair

from node.chain.local import LocalChain
from node.chain.wallets import ensure_hotkey


def register_and_commit(chain_path: str, wallet_path: str, name: str, rounds: int) -> None:
    """Register `rounds` throwaway hotkeys and commit `rounds` times with this worker's own hotkey."""
    chain = LocalChain(chain_path)
    wallet = ensure_hotkey(name, "hot", wallet_path)
    chain.register(wallet.hotkey.ss58_address)
    for i in range(rounds):
        throwaway = Keypair.create_from_seed(bytes([len(name), i]) * 16)
        chain.register(throwaway.ss58_address)
        chain.set_stake(throwaway.ss58_address, 1.0, add=True)
        chain.commit(wallet, f"{name}-{i}")
        chain.advance(1)


def read_commitment(chain_path: str, hotkey: str) -> str | None:
    """What a second process sees for `hotkey`."""
    found = LocalChain(chain_path).commitment(hotkey)
    return None if found is None else f"{found.data}@{found.block}"


def read_weights(chain_path: str) -> dict[int, dict[int, float]]:
    return LocalChain(chain_path).weights()
