"""Hub-side checks of a publish: is this exact model already uploaded, and does a revision hash to our files?

Both work from hub metadata alone (no download). A revision holds "exactly these files" when its model files
have the same names and sizes as the local ones and every file matches by sha256 (directory hub, LFS files
on the Hugging Face Hub) or by git blob id (small regular files on the Hugging Face Hub, which lists no
sha256 for them).
"""

from __future__ import annotations

from pathlib import Path

from node.hub import HubError, ModelHub, RevisionInfo, RevisionNotFoundError
from node.hub.directory import DirectoryHub, revision_id
from node.hub.hf import git_blob_id
from node.identity import FileDigest, model_hash


def same_files(info: RevisionInfo, folder: Path, digests: list[FileDigest]) -> bool:
    """True when the revision's model files are exactly the local model files."""
    local = {d.name: d for d in digests}
    remote = {f.name: f for f in info.files}
    if set(local) != set(remote):
        return False
    for name, item in remote.items():
        if item.size != local[name].size:
            return False
        if item.sha256 is not None:
            if item.sha256 != local[name].sha256:
                return False
        elif item.git_oid is None or git_blob_id(folder / name) != item.git_oid:
            return False
    return True


def existing_revision(hub: ModelHub, repo_id: str, folder: Path, digests: list[FileDigest]) -> str | None:
    """A revision of `repo_id` that already holds exactly these files, or None.

    The directory hub's revision id is content-addressed, so the one candidate is computable; on other hubs
    the newest revision (`main`) is the candidate: a publish interrupted after its upload left it there.
    """
    candidate = revision_id(digests) if isinstance(hub, DirectoryHub) else "main"
    try:
        info = hub.revision_info(repo_id, candidate)
    except RevisionNotFoundError:
        return None
    return info.revision if same_files(info, folder, digests) else None


def metadata_hash(hub: ModelHub, repo_id: str, revision: str, hotkey: str) -> tuple[RevisionInfo, str]:
    """The revision's info with every sha256 known, and the hotkey-bound hash computed from it.

    The Hugging Face Hub lists sha256 for LFS files only; `complete_digests` fetches the small regular files
    (configs, tokenizer) to hash them, never the weights.
    """
    info = hub.revision_info(repo_id, revision)
    if not info.complete_digests:
        complete = getattr(hub, "complete_digests", None)
        if complete is None:
            raise HubError(f"{repo_id}@{revision}: the hub lists no sha256 for some files")
        info = complete(info)
    return info, model_hash(info.digests(), hotkey)
