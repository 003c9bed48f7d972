"""Bittensor wallets for the node: real hotkey files, created offline for the embedded network.

The embedded network keeps its wallets under the node's cache (`<cache>/wallets`, or `$SN29_WALLET_PATH`)
so devnet keys never mix with a user's real keys in `~/.bittensor/wallets`; production passes that path.
"""

from __future__ import annotations

import os
from pathlib import Path

from node.paths import cache_dir

WALLET_PATH_ENV = "SN29_WALLET_PATH"
DEFAULT_COLDKEY_NAME = "devnet"


def default_wallet_path() -> Path:
    """`$SN29_WALLET_PATH`, else `<cache>/wallets`."""
    configured = os.environ.get(WALLET_PATH_ENV)
    return Path(configured).expanduser().resolve() if configured else cache_dir() / "wallets"


def load_wallet(name: str, hotkey: str = "default", path: str | os.PathLike[str] | None = None):
    """A `bittensor.Wallet` (nothing is read until a key is used)."""
    import bittensor as bt

    return bt.Wallet(name, hotkey, str(path if path is not None else default_wallet_path()))


def ensure_hotkey(name: str, hotkey: str = "default", path: str | os.PathLike[str] | None = None):
    """Load the wallet, creating an unencrypted hotkey offline if its file does not exist yet.

    Hotkeys are unencrypted on purpose (as `btcli` creates them): a validator or miner daemon must sign
    without a person typing a password. Existing keys are never overwritten.
    """
    wallet = load_wallet(name, hotkey, path)
    if not wallet.hotkey_file.exists_on_device():
        wallet.create_new_hotkey(use_password=False, overwrite=False, suppress=True)
    return wallet
