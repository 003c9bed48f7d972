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


def open_hub(spec: str | None = None, *, token: str | None = None, attempts: int | None = None,
             timeout_s: float | None = None) -> ModelHub:
    """Open the hub `spec` names (default `$SN29_HUB`, else the directory hub in the cache).

    `attempts` (tries per call, with backoff) and `timeout_s` (per request) tune the Hugging Face client; the
    directory hub has neither."""
    spec = spec or os.environ.get(HUB_ENV) or "directory"
    if spec == "directory" or spec.startswith("directory:"):
        from node.hub.directory import DirectoryHub

        folder = spec.removeprefix("directory").removeprefix(":")
        return DirectoryHub(Path(folder).expanduser().resolve() if folder else cache_dir() / "hub")
    if spec == "hf" or spec.startswith("hf:"):
        import dataclasses

        from node.hub.hf import DEFAULT_POLICY, HuggingFaceHub

        endpoint = spec.removeprefix("hf").removeprefix(":") or None
        policy = DEFAULT_POLICY if attempts is None else dataclasses.replace(DEFAULT_POLICY, attempts=attempts)
        return HuggingFaceHub(endpoint=endpoint, token=token, policy=policy,
                              **({} if timeout_s is None else {"timeout": timeout_s}))
    raise ValueError(f"unknown hub {spec!r}: use 'directory[:PATH]' or 'hf[:ENDPOINT]'")
