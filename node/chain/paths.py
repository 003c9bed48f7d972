"""Where the embedded chain file lives by default."""

from __future__ import annotations

import os
from pathlib import Path

from node.paths import cache_dir

CHAIN_ENV = "SN29_CHAIN"


def default_chain_path() -> Path:
    """The embedded chain file: from `$SN29_CHAIN` when it names one, else `<cache>/chain/local.sqlite`.

    `$SN29_CHAIN` may be `embedded:/path/x.sqlite` or a plain `*.sqlite` path; a network name there
    (finney, test, ...) does not change where the embedded file would be.
    """
    configured = os.environ.get(CHAIN_ENV, "")
    if configured.startswith("embedded:"):
        return Path(configured.removeprefix("embedded:")).expanduser().resolve()
    if configured.endswith((".sqlite", ".db")):
        return Path(configured).expanduser().resolve()
    return cache_dir() / "chain" / "local.sqlite"
