"""The publish state file: which steps of one publish are done, so a rerun neither uploads nor commits twice.

One JSON object per model folder (default `<DIR>/../.publish-<DIR name>.json`: beside the folder, never in
it, where it would be a model file), written atomically after each step. It belongs to one publish: the
folder's content hash, the hotkey, the repository and the competition. If any of them changed (new weights,
another `--parent`), the old record is set aside and the publish starts over. A record is a hint, never
trusted alone: every completed step is re-verified cheaply on the hub and the chain before it is skipped.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from node.hub.fsutil import write_atomic

STATE_VERSION = 1
STEPS = ("checked", "evaluated", "uploaded", "committed", "verified")


@dataclass(frozen=True)
class PublishKey:
    """What makes two runs the same publish."""

    content_hash: str  # node.identity.dir_hash of the folder's model files
    hotkey: str
    repo_id: str
    competition: str


@dataclass
class PublishState:
    """Completed steps, each with what it produced (a revision, a block, the comparison)."""

    key: PublishKey
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def done(self, step: str) -> dict[str, Any] | None:
        return self.steps.get(step)

    def record(self, step: str, **result: Any) -> None:
        if step not in STEPS:
            raise ValueError(f"unknown publish step {step!r}")
        self.steps[step] = result

    def forget(self, *steps: str) -> None:
        for step in steps:
            self.steps.pop(step, None)

    def to_json(self) -> bytes:
        return json.dumps({"version": STATE_VERSION, "key": asdict(self.key), "steps": self.steps},
                          indent=1, sort_keys=True).encode()


def default_state_path(model_dir: Path) -> Path:
    model_dir = Path(model_dir).resolve()
    return model_dir.parent / f".publish-{model_dir.name}.json"


class StateFile:
    """Loads the record for a key (or a fresh one) and saves it atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self, key: PublishKey) -> tuple[PublishState, str | None]:
        """The state for `key` and, when an existing record was set aside, why."""
        try:
            raw = json.loads(self.path.read_bytes())
        except FileNotFoundError:
            return PublishState(key), None
        except (OSError, ValueError) as err:
            return PublishState(key), f"unreadable state file {self.path} ({err}); starting over"
        try:
            if raw.get("version") != STATE_VERSION:
                raise ValueError(f"version {raw.get('version')!r}")
            stored = PublishKey(**raw["key"])
            steps = {k: dict(v) for k, v in raw["steps"].items() if k in STEPS}
        except (AttributeError, KeyError, TypeError, ValueError) as err:
            return PublishState(key), f"malformed state file {self.path} ({err}); starting over"
        if stored != key:
            changed = [name for name in asdict(key) if getattr(stored, name) != getattr(key, name)]
            return PublishState(key), f"state file {self.path} is for another publish ({', '.join(changed)} changed)"
        return PublishState(key, steps), None

    def save(self, state: PublishState) -> None:
        write_atomic(self.path, state.to_json())
