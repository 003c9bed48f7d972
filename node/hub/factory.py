"""Pick the hub implementation from one spec string (flag, config or `$SN29_HUB`).

`directory` (default: `<cache>/hub`) or `directory:/path`: the embedded directory hub.
`hf` (endpoint from `$HF_ENDPOINT`, else huggingface.co) or `hf:https://host`: a Hugging Face Hub.
"""

from __future__ import annotations

import os
from pathlib import Path

from node.hub.base import ModelHub
from node.paths import cache_dir

HUB_ENV = "SN29_HUB"


def open_hub(spec: str | None = None, *, token: str | None = None) -> ModelHub:
    """Open the hub `spec` names (default `$SN29_HUB`, else the directory hub in the cache)."""
    spec = spec or os.environ.get(HUB_ENV) or "directory"
    if spec == "directory" or spec.startswith("directory:"):
        from node.hub.directory import DirectoryHub

        folder = spec.removeprefix("directory").removeprefix(":")
        return DirectoryHub(Path(folder).expanduser().resolve() if folder else cache_dir() / "hub")
    if spec == "hf" or spec.startswith("hf:"):
        from node.hub.hf import HuggingFaceHub

        endpoint = spec.removeprefix("hf").removeprefix(":") or None
        return HuggingFaceHub(endpoint=endpoint, token=token)
    raise ValueError(f"unknown hub {spec!r}: use 'directory[:PATH]' or 'hf[:ENDPOINT]'")
