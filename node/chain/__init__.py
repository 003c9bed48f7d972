"""The chain boundary: one small interface, an embedded SQLite chain by default, Bittensor in production.

    from node.chain import open_chain
    chain = open_chain()            # $SN29_CHAIN, else the embedded devnet file
    chain.commitments()             # {hotkey: Commitment(data, block, uid)}

`python -m node.chain --help` administers the embedded network.
"""

from node.chain.base import Chain
from node.chain.errors import (
    ChainError,
    ChainReadError,
    ChainWriteError,
    InvalidWeightsError,
    NotRegisteredError,
    PermissionDeniedError,
    RateLimitedError,
    SignatureError,
)
from node.chain.factory import open_chain
from node.chain.types import Commitment, HotkeyWallet, Metagraph, Neuron

__all__ = [
    "Chain",
    "ChainError",
    "ChainReadError",
    "ChainWriteError",
    "Commitment",
    "HotkeyWallet",
    "InvalidWeightsError",
    "Metagraph",
    "Neuron",
    "NotRegisteredError",
    "PermissionDeniedError",
    "RateLimitedError",
    "SignatureError",
    "open_chain",
]
