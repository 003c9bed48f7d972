"""Signed writes for the embedded chain: the writer signs, the chain verifies against the ss58 address.

The signed payload names the network (genesis seed), the subnet, the operation, the hotkey and the block
it was signed at, so a signature cannot be replayed on another network, for another operation, or (beyond
`MORTALITY_BLOCKS`) later, mirroring a real extrinsic's mortal era.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from node.chain.errors import SignatureError
from node.chain.types import Keypair

MORTALITY_BLOCKS = 64


@dataclass(frozen=True)
class SignedWrite:
    """A write as submitted: who claims to send it, what, when, and the signature (hex)."""

    op: str
    hotkey: str
    block: int
    body: dict[str, Any]
    signature: str


def payload(genesis_seed: str, netuid: int, op: str, hotkey: str, block: int, body: dict[str, Any]) -> bytes:
    """The canonical bytes that are signed (sorted-key compact JSON)."""
    document = {
        "network": genesis_seed,
        "netuid": netuid,
        "op": op,
        "hotkey": hotkey,
        "block": block,
        "body": body,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def sign(
    keypair: Keypair, genesis_seed: str, netuid: int, op: str, block: int, body: dict[str, Any]
) -> SignedWrite:
    """Sign a write with the wallet's hotkey keypair."""
    message = payload(genesis_seed, netuid, op, keypair.ss58_address, block, body)
    return SignedWrite(op, keypair.ss58_address, block, body, bytes(keypair.sign(message)).hex())


def verify(write: SignedWrite, genesis_seed: str, netuid: int, current_block: int) -> None:
    """Raise `SignatureError` unless `write` is signed by `write.hotkey` and still alive."""
    from bittensor.sp_core import Keypair as SdkKeypair  # the SDK's native sr25519/ed25519 verifier

    if not 0 <= current_block - write.block <= MORTALITY_BLOCKS:
        raise SignatureError(
            f"write signed at block {write.block} is not valid at block {current_block} "
            f"(mortality {MORTALITY_BLOCKS} blocks)"
        )
    try:
        public = SdkKeypair(ss58_address=write.hotkey)
        signature = bytes.fromhex(write.signature)
        message = payload(genesis_seed, netuid, write.op, write.hotkey, write.block, write.body)
        valid = public.verify(message, signature)
    except (ValueError, TypeError) as err:
        raise SignatureError(f"malformed hotkey or signature: {err}") from None
    if not valid:
        raise SignatureError(f"signature does not verify for hotkey {write.hotkey}")
