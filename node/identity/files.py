"""Which files make up a model, and which file names are acceptable at all.

One definition, used by the miner (hash before upload), the hub (what to list and download) and the
validator (hash after download), so that all three hash exactly the same set of files.

A model is a *flat* folder: only top-level files whose names match `MODEL_FILE_PATTERNS` belong to it.
Anything else in a hub revision (README.md, .gitattributes, code, pickles, sub-folders) is neither
downloaded nor hashed, so it can neither change a model's identity nor reach a validator's disk.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable

MODEL_FILE_PATTERNS: tuple[str, ...] = ("*.safetensors", "*.json", "tokenizer*")

# Conservative portable file names: no separators, no control characters, no leading dot, no
# Windows-reserved characters. Model files produced by `save_pretrained` always fit.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=-]{0,199}", re.ASCII)


class FileNameError(ValueError):
    """A file name that must not be written to disk or hashed."""


def check_file_name(name: str) -> str:
    """Return `name` if it is a safe flat file name, else raise `FileNameError`."""
    if not isinstance(name, str) or not _SAFE_NAME.fullmatch(name):
        raise FileNameError(f"unsafe or non-flat file name: {str(name)[:100]!r}")
    return name


def matches(name: str, patterns: Iterable[str] = MODEL_FILE_PATTERNS) -> bool:
    """True if `name` is a flat file name matching one of `patterns` (case-sensitive)."""
    if "/" in name or "\\" in name:
        return False
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def select_model_files(names: Iterable[str], patterns: Iterable[str] = MODEL_FILE_PATTERNS) -> list[str]:
    """The sorted model file names among `names`; matching names that are unsafe raise `FileNameError`."""
    patterns = tuple(patterns)
    chosen = sorted({name for name in names if matches(name, patterns)})
    for name in chosen:
        check_file_name(name)
    return chosen
