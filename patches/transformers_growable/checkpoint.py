"""Where each tensor of a safetensors checkpoint lives, without reading any tensor data."""

from __future__ import annotations

import json
from pathlib import Path

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"


def tensor_locations(checkpoint_dir: str | Path) -> dict[str, Path]:
    """Map tensor name -> shard file, from the index (sharded) or the single file's header."""
    root = Path(checkpoint_dir)
    index = root / INDEX_FILE
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        locations = {name: root / shard for name, shard in weight_map.items()}
    elif (root / SINGLE_FILE).is_file():
        from safetensors import safe_open

        with safe_open(root / SINGLE_FILE, framework="pt") as handle:
            locations = {name: root / SINGLE_FILE for name in handle.keys()}  # noqa: SIM118
    else:
        raise FileNotFoundError(f"no {SINGLE_FILE} or {INDEX_FILE} in {root}")
    for name, shard in locations.items():
        if shard.parent.resolve() != root.resolve():
            raise ValueError(f"shard path for {name} escapes the checkpoint folder: {shard}")
    return locations
