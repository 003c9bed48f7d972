"""The canonical model hash: one routine for miner and validator, computable before and after download.

Definition (version 1), precisely:

1. The model's files are the flat files selected by `node.identity.files.MODEL_FILE_PATTERNS`.
   Each contributes its name (ASCII, see `check_file_name`) and the lowercase hex sha256 of its bytes.
2. The *manifest* is the concatenation, over files sorted by name (byte order), of the UTF-8 lines
   `name + "\\0" + sha256hex + "\\n"`.
3. `dir_hash = base64(sha256(manifest))` (standard alphabet, padded: 44 characters).
4. `model_hash = base64(sha256(utf8(dir_hash + hotkey_ss58)))`: the value committed on chain.

Step 4 is the reference system's binding (`base64(sha256(dir_hash + hotkey))`): a copier who
re-commits someone else's upload under their own hotkey produces a hash that does not match the files,
so the copy is rejected. Steps 1-3 depend only on names and contents, never on file order, timestamps,
platform or how the files were obtained, and because only (name, sha256) pairs are needed the hash can
be computed from hub metadata (LFS sha256 on the Hugging Face Hub; recorded sha256 in the directory hub)
before downloading anything, then recomputed from the downloaded bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from node.identity.files import MODEL_FILE_PATTERNS, FileNameError, check_file_name, select_model_files

_SHA256_HEX = re.compile(r"[0-9a-f]{64}", re.ASCII)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileDigest:
    """One model file as the hash sees it: name, sha256 (lowercase hex) and size in bytes."""

    name: str
    sha256: str
    size: int

    def __post_init__(self) -> None:
        check_file_name(self.name)
        if not _SHA256_HEX.fullmatch(self.sha256):
            raise ValueError(f"sha256 of {self.name!r} is not 64 lowercase hex digits: {self.sha256[:80]!r}")
        if self.size < 0:
            raise ValueError(f"negative size for {self.name!r}")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Lowercase hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_bytes(files: Iterable[FileDigest]) -> bytes:
    """The exact bytes hashed into `dir_hash` (see the module docstring)."""
    ordered = sorted(files, key=lambda f: f.name.encode())
    names = [f.name for f in ordered]
    if len(set(names)) != len(names):
        raise FileNameError("duplicate file names in model manifest")
    if not ordered:
        raise ValueError("a model has no files")
    return b"".join(f"{f.name}\0{f.sha256}\n".encode() for f in ordered)


def dir_hash(files: Iterable[FileDigest]) -> str:
    """base64(sha256(manifest)): identifies the files independent of who uploaded them."""
    return base64.b64encode(hashlib.sha256(manifest_bytes(files)).digest()).decode("ascii")


def reference_dir_hash(files: Iterable[FileDigest]) -> str:
    """The reference validator's folder hash, accepted for compatibility with existing commitments.

    Files sorted by name (byte order); for each, `base64(sha256(bytes))` (44 ASCII characters) is fed, in
    order, into one sha256; names are not included; the digest is base64-encoded. Bound to the hotkey with
    `bind_to_hotkey` like ours. It is computed over the same files as `dir_hash` (the revision's files
    matching `MODEL_FILE_PATTERNS`: `config.json`, `generation_config.json`, the safetensors shards and their
    index, the tokenizer files, plus any other top-level `*.json`), which is what the reference's snapshot
    download held for a model saved with `save_pretrained`.
    """
    ordered = sorted(files, key=lambda f: f.name.encode())
    if not ordered:
        raise ValueError("a model has no files")
    digest = hashlib.sha256()
    for f in ordered:
        digest.update(base64.b64encode(bytes.fromhex(f.sha256)))
    return base64.b64encode(digest.digest()).decode("ascii")


def bind_to_hotkey(directory_hash: str, hotkey: str) -> str:
    """base64(sha256(dir_hash + hotkey)): the hotkey-bound value that goes on chain."""
    if not hotkey:
        raise ValueError("hotkey is empty")
    data = (directory_hash + hotkey).encode("utf-8")
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


def model_hash(files: Iterable[FileDigest], hotkey: str) -> str:
    """The committed model hash for these files and this miner hotkey."""
    return bind_to_hotkey(dir_hash(files), hotkey)


def hash_scheme(digests: Iterable[FileDigest], hotkey: str, committed: str) -> str | None:
    """Which scheme makes these files hash to the committed value for this hotkey: "sn29-v1" (`model_hash`),
    "reference" (`reference_dir_hash`, accepted for existing commitments) or None (neither).

    Shared by the validator (after download) and the miner (the current best model it compares against)."""
    digests = list(digests)
    if bind_to_hotkey(dir_hash(digests), hotkey) == committed:
        return "sn29-v1"
    if bind_to_hotkey(reference_dir_hash(digests), hotkey) == committed:
        return "reference"
    return None


def digests_from_folder(
    folder: str | os.PathLike[str], patterns: Iterable[str] = MODEL_FILE_PATTERNS
) -> list[FileDigest]:
    """Digest every model file in a flat folder (e.g. before upload, or after download)."""
    root = Path(folder)
    names = [entry.name for entry in root.iterdir() if entry.is_file() and not entry.is_symlink()]
    return [
        FileDigest(name, sha256_file(root / name), (root / name).stat().st_size)
        for name in select_model_files(names, patterns)
    ]


def folder_model_hash(folder: str | os.PathLike[str], hotkey: str) -> str:
    """`model_hash` of a local folder: what a miner commits and what a validator re-checks."""
    return model_hash(digests_from_folder(folder), hotkey)
