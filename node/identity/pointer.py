"""The on-chain model pointer `namespace:name:commit:hash:competition`, parsed strictly.

A pointer is untrusted input written by any miner. Readers (the validator's chain sync) must never crash
on one, and must be able to say *why* a pointer was ignored, so parsing has two faces:
`parse_pointer` raises `PointerError` with a reason; `read_pointer` never raises and returns a
`PointerResult` carrying either the pointer or that reason.

The format is the reference system's (SN29/SN9 `ModelId` compressed string), kept so miners' tools keep
working. `format_pointer(parse_pointer(s)) == s` for every accepted `s`: there is exactly one spelling of a
pointer, so two validators never disagree about whether two commitments are "the same model".
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from node.refusal import RefusalKind, Refused

SEPARATOR = ":"
FIELD_COUNT = 5
# The chain's commitment field is a Raw<=128 byte string; anything longer cannot be committed at all.
MAX_POINTER_BYTES = 128
MAX_REPO_SEGMENT = 96  # Hugging Face: namespace and name are each at most 96 characters.

# Hugging Face repo-id segment: ASCII letters, digits, '_', '-', '.', starting and ending with a word
# character; '--' and '..' are forbidden and a name may not end in '.git'.
_SEGMENT = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?", re.ASCII)
_COMMIT = re.compile(r"[0-9a-f]{40}", re.ASCII)
_HASH = re.compile(r"[A-Za-z0-9+/]{43}=", re.ASCII)
_COMPETITION = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)


class PointerError(Refused):
    """A string is not a valid model pointer (kind BAD_POINTER); `reason` says which rule it broke."""

    def __init__(self, reason: str) -> None:
        super().__init__(RefusalKind.BAD_POINTER, reason)
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.reason,))


@dataclass(frozen=True)
class ModelPointer:
    """Where a miner's model lives (`namespace/name` at `commit`), its hotkey-bound hash, its competition."""

    namespace: str
    name: str
    commit: str
    hash: str
    competition: str

    def __post_init__(self) -> None:
        # Validate on construction too, so an invalid pointer object cannot exist at all.
        _check_fields(self.namespace, self.name, self.commit, self.hash, self.competition)
        text = SEPARATOR.join((self.namespace, self.name, self.commit, self.hash, self.competition))
        if len(text.encode()) > MAX_POINTER_BYTES:
            raise PointerError(
                f"pointer is {len(text.encode())} bytes; the chain commitment field holds {MAX_POINTER_BYTES}"
            )

    @property
    def repo_id(self) -> str:
        """The hub repository id, `namespace/name`."""
        return f"{self.namespace}/{self.name}"

    def format(self) -> str:
        """The canonical on-chain string."""
        return format_pointer(self)


@dataclass(frozen=True)
class PointerResult:
    """What a reader gets: the pointer, or why the string was rejected (exactly one is set)."""

    pointer: ModelPointer | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.pointer is not None


def _check_segment(kind: str, value: str) -> None:
    if not value:
        raise PointerError(f"{kind} is empty")
    if len(value) > MAX_REPO_SEGMENT:
        raise PointerError(f"{kind} is {len(value)} characters; at most {MAX_REPO_SEGMENT} allowed")
    if not _SEGMENT.fullmatch(value):
        raise PointerError(
            f"{kind} {value[:100]!r} must use ASCII letters, digits, '-', '_' or '.', "
            "and start and end with a letter, digit or '_'"
        )
    if "--" in value or ".." in value:
        raise PointerError(f"{kind} {value!r} contains '--' or '..'")
    if value.endswith(".git"):
        raise PointerError(f"{kind} {value!r} ends with '.git'")


def split_repo_id(repo_id: str) -> tuple[str, str]:
    """`namespace/name` -> (namespace, name), both checked with the pointer's repo rules (`PointerError`)."""
    if not isinstance(repo_id, str) or repo_id.count("/") != 1:
        raise PointerError(f"repo id {str(repo_id)[:100]!r} must be 'namespace/name'")
    namespace, name = repo_id.split("/")
    _check_segment("namespace", namespace)
    _check_segment("name", name)
    return namespace, name


def _check_fields(namespace: str, name: str, commit: str, hash_: str, competition: str) -> None:
    for kind, value in (
        ("namespace", namespace),
        ("name", name),
        ("commit", commit),
        ("hash", hash_),
        ("competition", competition),
    ):
        if not isinstance(value, str):
            raise PointerError(f"{kind} must be a string, got {type(value).__name__}")
    _check_segment("namespace", namespace)
    _check_segment("name", name)
    if not _COMMIT.fullmatch(commit):
        raise PointerError(f"commit {commit[:60]!r} is not 40 lowercase hex digits")
    if not _HASH.fullmatch(hash_):
        raise PointerError(f"hash {hash_[:60]!r} is not a 44-character base64 sha256 digest")
    try:
        digest = base64.b64decode(hash_, validate=True)
    except binascii.Error as err:
        raise PointerError(f"hash is not valid base64: {err}") from None
    if len(digest) != 32:
        raise PointerError("hash does not decode to 32 bytes")
    # The last character carries 2 unused bits; only the spelling with them zero is canonical, so one
    # digest has exactly one accepted string (else two commitments of one model would compare unequal).
    if base64.b64encode(digest).decode("ascii") != hash_:
        raise PointerError(f"hash {hash_!r} is not the canonical base64 spelling of its digest")
    if not _COMPETITION.fullmatch(competition):
        raise PointerError(
            f"competition {competition[:60]!r} must be 1-32 ASCII letters, digits, '_' or '-'"
        )


def parse_pointer(text: str) -> ModelPointer:
    """Parse an on-chain string; raise `PointerError` naming the first rule it breaks."""
    if not isinstance(text, str):
        raise PointerError(f"pointer must be a string, got {type(text).__name__}")
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_POINTER_BYTES:
        raise PointerError(f"pointer is {size} bytes; at most {MAX_POINTER_BYTES} allowed")
    if text != text.strip():
        raise PointerError("pointer has leading or trailing whitespace")
    fields = text.split(SEPARATOR)
    if len(fields) != FIELD_COUNT:
        raise PointerError(
            f"pointer has {len(fields)} ':'-separated fields; expected {FIELD_COUNT} "
            "(namespace:name:commit:hash:competition)"
        )
    return ModelPointer(*fields)


def read_pointer(text: object) -> PointerResult:
    """Parse without ever raising: for readers walking every commitment on chain."""
    try:
        return PointerResult(parse_pointer(text), None)  # type: ignore[arg-type]
    except PointerError as err:
        return PointerResult(None, err.reason)
    except Exception as err:  # a reader must survive any input, whatever it is
        return PointerResult(None, f"unparseable pointer: {type(err).__name__}: {err}")


def format_pointer(pointer: ModelPointer) -> str:
    """The canonical string for a pointer (the inverse of `parse_pointer`)."""
    return SEPARATOR.join(
        (pointer.namespace, pointer.name, pointer.commit, pointer.hash, pointer.competition)
    )
