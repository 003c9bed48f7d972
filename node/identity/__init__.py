"""Model identity: the on-chain pointer format and the canonical, hotkey-bound model hash."""

from node.identity.files import MODEL_FILE_PATTERNS, FileNameError, check_file_name, select_model_files
from node.identity.hashing import (
    FileDigest,
    bind_to_hotkey,
    digests_from_folder,
    dir_hash,
    folder_model_hash,
    hash_scheme,
    model_hash,
    reference_dir_hash,
    sha256_file,
)
from node.identity.pointer import (
    MAX_POINTER_BYTES,
    ModelPointer,
    PointerError,
    PointerResult,
    format_pointer,
    parse_pointer,
    read_pointer,
    split_repo_id,
)

__all__ = [
    "MAX_POINTER_BYTES",
    "MODEL_FILE_PATTERNS",
    "FileDigest",
    "FileNameError",
    "ModelPointer",
    "PointerError",
    "PointerResult",
    "bind_to_hotkey",
    "check_file_name",
    "digests_from_folder",
    "dir_hash",
    "folder_model_hash",
    "format_pointer",
    "hash_scheme",
    "model_hash",
    "parse_pointer",
    "read_pointer",
    "reference_dir_hash",
    "select_model_files",
    "sha256_file",
    "split_repo_id",
]
