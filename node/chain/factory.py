"""Pick the chain implementation from one spec string (flag, config or `$SN29_CHAIN`).

`embedded` (default) or `embedded:/path/file.sqlite` or any `*.sqlite` path: the embedded SQLite chain.
`finney`, `test`, `local` (a local subtensor node), `archive`, `ws://...`, `wss://...`: Bittensor.
"""

from __future__ import annotations

import os
from pathlib import Path

from node.chain.base import Chain
from node.chain.paths import CHAIN_ENV, default_chain_path

EMBEDDED = "embedded"


def is_embedded(spec: str) -> bool:
    """True when `spec` names the embedded chain (rather than a Bittensor network)."""
    return spec == EMBEDDED or spec.startswith(EMBEDDED + ":") or spec.endswith((".sqlite", ".db"))


def embedded_path(spec: str) -> Path:
    """The chain file a spec names (the default file for a bare `embedded`)."""
    if spec.startswith(EMBEDDED + ":"):
        return Path(spec.removeprefix(EMBEDDED + ":")).expanduser().resolve()
    if spec == EMBEDDED:
        return default_chain_path()
    return Path(spec).expanduser().resolve()


def open_chain(spec: str | None = None, netuid: int = 29) -> Chain:
    """Open the chain `spec` names (default `$SN29_CHAIN`, else the embedded default file).

    For the embedded chain the netuid comes from the file; `netuid` applies to Bittensor networks.
    """
    spec = spec or os.environ.get(CHAIN_ENV) or EMBEDDED
    if is_embedded(spec):
        from node.chain.local import LocalChain

        return LocalChain(embedded_path(spec))
    if spec in ("finney", "test", "local", "archive") or spec.startswith(("ws://", "wss://")):
        from node.chain.subtensor import SubtensorChain

        return SubtensorChain(spec, netuid)
    raise ValueError(
        f"unknown chain {spec!r}: use 'embedded[:PATH]', a .sqlite path, finney, test, local or a ws(s):// URL"
    )
