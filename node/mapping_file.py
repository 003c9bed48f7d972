"""Reading a small settings document (a growth plan, a training config): JSON if it parses as JSON, else YAML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_mapping_file(path: str | Path, what: str) -> dict[str, Any]:
    """The file's top-level mapping (YAML through the safe loader); `ValueError` naming `what` otherwise."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        import yaml

        data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: {what} must be a mapping")
    return data
