"""Where the starting model comes from: a local folder, or a chain pointer downloaded from the hub.

    /path/to/checkpoint                       a save_pretrained folder
    pointer:<namespace:name:commit:hash:competition>   an on-chain pointer string
    hotkey:<ss58>                             whatever that hotkey has committed on the chain

A pointer is fetched the way a validator fetches it: `node.hub.open_hub` for the hub, a
`node.hub.store.ModelStore` under the node cache (size-capped, shared by processes, so the ranks of a
torchrun job download once), and, for `hotkey:`, the files must hash to the committed hotkey-bound
hash (`node.identity.folder_model_hash`), so a miner never starts from files other than the ones
the chain points at. The returned lease keeps the store from evicting the folder while it is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from node.chain import open_chain
from node.hub import open_hub
from node.hub.leases import Lease
from node.hub.store import ModelStore
from node.identity import PointerError, folder_model_hash, parse_pointer
from node.paths import cache_dir

from .errors import TrainingRefusalKind, TrainingRefused

STORE_MAX_BYTES = 200 * 1024**3


@dataclass
class ModelSource:
    """A local folder holding the starting model, and the store lease that keeps it there (if any)."""

    path: Path
    lease: Lease | None = None

    def release(self) -> None:
        if self.lease is not None:
            self.lease.release()


def resolve_source(spec: str, *, hub: str | None = None, chain: str | None = None,
                   store_root: Path | None = None) -> ModelSource:
    """The folder `spec` names, downloading a pointer's revision first (see the module docstring)."""
    hotkey = None
    if spec.startswith("hotkey:"):
        hotkey = spec.removeprefix("hotkey:")
        connection = open_chain(chain)
        try:
            commitment = connection.commitment(hotkey)
        finally:
            connection.close()
        if commitment is None:
            raise TrainingRefused(TrainingRefusalKind.BAD_SOURCE, f"hotkey {hotkey} has no commitment on the chain")
        text = commitment.data
    elif spec.startswith("pointer:"):
        text = spec.removeprefix("pointer:")
    else:
        path = Path(spec).expanduser()
        if not (path / "config.json").is_file():
            raise TrainingRefused(TrainingRefusalKind.BAD_SOURCE,
                                  f"{spec} is not a checkpoint folder (no config.json), a pointer: or a hotkey:")
        return ModelSource(path)
    try:
        pointer = parse_pointer(text)
    except PointerError as exc:
        raise TrainingRefused(TrainingRefusalKind.BAD_SOURCE, f"not a model pointer ({exc.reason}): {text!r}") from None
    store = ModelStore(store_root or cache_dir() / "miner" / "models", max_bytes=STORE_MAX_BYTES)
    lease = store.fetch(open_hub(hub), pointer.repo_id, pointer.commit)
    if hotkey is not None and folder_model_hash(lease.path, hotkey) != pointer.hash:
        lease.release()
        raise TrainingRefused(TrainingRefusalKind.BAD_SOURCE,
                              f"{pointer.repo_id}@{pointer.commit} does not hash to the hash {hotkey} committed")
    return ModelSource(lease.path, lease)
