"""The competitions document: parsed strictly into frozen dataclasses, rejected whole when invalid."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from node.competitions.fields import (
    Check,
    CompetitionsError,
    architectures,
    boolean,
    choice,
    integer,
    number,
    optional,
    text,
)
from node.data.tokenization import TokenizerPolicy
from node.scoring import DEFAULT_BONUS_DECAY, DEFAULT_MAX_BONUS_SHARE, BonusEntry, hall_of_fame_bonus

COMPETITION_ID = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)  # the pointer's competition field
HOTKEY = re.compile(r"[A-Za-z0-9]{1,64}", re.ASCII)
DEFAULT_KEY = "default"
HALL_OF_FAME_KEY = "hall_of_fame"
RESERVED_KEYS = (DEFAULT_KEY, HALL_OF_FAME_KEY)
DATASETS = ("corpus", "fineweb")
EVAL_DTYPES = ("auto", "float32", "bfloat16")
MAX_DOCUMENT_BYTES = 1024 * 1024
MAX_DEPTH = 6
MAX_COMPETITIONS = 64
MAX_HALL_OF_FAME_ENTRIES = 1000
CANONICAL_FORMAT = "sn29-competitions/v1"
BUNDLED_FILE = "competitions_default.json"
_REQUIRED = object()
_LIMIT = 10**13  # bytes or parameters: 10 TB / 10T, far above anything real, below float trouble

# key -> (check, default); _REQUIRED marks the reference's required keys
SCHEMA: dict[str, tuple[Check, object]] = {
    "reward": (number(0.0, 1e6, low_open=True), _REQUIRED),
    "model_types": (architectures, _REQUIRED),
    "model_size": (integer(1, _LIMIT), _REQUIRED),
    "parameters": (integer(1, _LIMIT), _REQUIRED),
    "dataset": (choice(DATASETS), _REQUIRED),
    "tokenizer": (optional(text(256)), None),
    "free_tokenizer": (boolean, False),
    "max_sequence_len": (integer(2, 1 << 20), 4096),
    "cap_sample_len": (optional(integer(1, 10**7)), None),
    "group_samples": (integer(1, 10_000), 1),
    "pool_size": (integer(1, 1000), 7),
    "pend_size": (integer(0, 1000), 3),
    "advantage_initial": (number(0.0, 1.0, high_open=True), 0.004),
    "advantage_decay": (number(0.0, 1.0, low_open=True), 0.995),
    "weight_skew_factor": (number(0.0, 100.0, low_open=True), 1.0),
    "discard_winrate": (number(0.0, 1.0), 0.0),
    "eval_dtype": (choice(EVAL_DTYPES), "auto"),
    "add_bos": (boolean, False),
}
HALL_OF_FAME_ENTRY_SCHEMA: dict[str, tuple[Check, object]] = {
    "hotkey": (text(64, HOTKEY), _REQUIRED),
    "weight": (number(0.0, 1.0, low_open=True), _REQUIRED),
    "block": (integer(0, 2**63 - 1), _REQUIRED),
    "decay": (number(0.0, 1.0, low_open=True), DEFAULT_BONUS_DECAY),
    "desc": (text(500), ""),
}


def _without_comments(where: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CompetitionsError(f"{where} must be a JSON object, got {type(value).__name__}")
    if not all(isinstance(k, str) for k in value):
        raise CompetitionsError(f"{where} has a key that is not a string")
    return {k: v for k, v in value.items() if not k.startswith("_")}


def _apply(where: str, schema: Mapping[str, tuple[Check, object]], values: Mapping[str, Any]) -> dict[str, Any]:
    """Check every key of `values` against `schema`; unknown keys and missing required keys are errors."""
    unknown = sorted(set(values) - set(schema))
    if unknown:
        raise CompetitionsError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(schema)})")
    out: dict[str, Any] = {}
    for key, (check, default) in schema.items():
        if key in values:
            out[key] = check(f"{where} key {key!r}", values[key])
        elif default is _REQUIRED:
            raise CompetitionsError(f"{where}: missing required key {key!r}")
        else:
            out[key] = default
    return out


@dataclass(frozen=True)
class Competition:
    """One competition's rules; built by `parse_competitions`, or directly (validated the same way)."""

    id: str
    reward: float
    model_types: tuple[str, ...]
    model_size: int
    parameters: int
    dataset: str
    tokenizer: str | None = None
    free_tokenizer: bool = False
    max_sequence_len: int = 4096
    cap_sample_len: int | None = None
    group_samples: int = 1
    pool_size: int = 7
    pend_size: int = 3
    advantage_initial: float = 0.004
    advantage_decay: float = 0.995
    weight_skew_factor: float = 1.0
    discard_winrate: float = 0.0
    eval_dtype: str = "auto"
    add_bos: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not COMPETITION_ID.fullmatch(self.id) or self.id in RESERVED_KEYS:
            raise CompetitionsError(
                f"competition id {self.id!r:.60} must be 1-32 ASCII letters, digits, '_' or '-', "
                f"and not one of {RESERVED_KEYS}"
            )
        where = f"competition {self.id!r}"
        raw = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "id"}
        if isinstance(raw["model_types"], tuple):
            raw["model_types"] = list(raw["model_types"])
        for key, value in _apply(where, SCHEMA, raw).items():
            object.__setattr__(self, key, value)
        if self.tokenizer is None and not self.free_tokenizer:
            raise CompetitionsError(f"{where} key 'tokenizer': null needs free_tokenizer true (no tokenizer at all)")
        try:
            self.tokenizer_policy()
        except ValueError as exc:
            raise CompetitionsError(f"{where}: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        """Every field (defaults explicit), JSON-ready: the entry as the canonical document holds it."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "id"}
        out["model_types"] = list(self.model_types)
        return out

    def tokenizer_policy(self) -> TokenizerPolicy:
        """How this competition tokenises samples (`node.data.TokenizerPolicy`)."""
        keys = ("tokenizer", "free_tokenizer", "cap_sample_len", "max_sequence_len", "add_bos")
        return TokenizerPolicy.from_competition({k: getattr(self, k) for k in keys})

    def eval_dtype_for(self, device: str) -> str:
        """`"float32"` or `"bfloat16"`: `auto` means bf16 on CUDA, fp32 elsewhere."""
        if self.eval_dtype != "auto":
            return self.eval_dtype
        return "bfloat16" if str(device).startswith("cuda") else "float32"

    def allows_architecture(self, name: str) -> bool:
        """Exact match against `model_types` (`LlamaForCausalLM` does not allow `MyLlamaForCausalLM`)."""
        return name in self.model_types


@dataclass(frozen=True)
class HallOfFame:
    """Bonus entries and the cap on their total share (see `node.scoring.bonus`)."""

    entries: tuple[BonusEntry, ...] = ()
    max_share: float = DEFAULT_MAX_BONUS_SHARE

    def bonus(self, current_block: int) -> dict[str, float]:
        return hall_of_fame_bonus(self.entries, current_block, max_share=self.max_share)

    def to_dict(self) -> dict[str, Any]:
        entries = [
            {"hotkey": e.hotkey, "weight": e.weight, "block": e.block, "decay": e.decay, "desc": e.desc}
            for e in self.entries
        ]
        return {"max_share": self.max_share, "entries": entries}


def _parse_hall_of_fame(value: object) -> HallOfFame:
    where = HALL_OF_FAME_KEY
    block = _without_comments(where, value)
    unknown = sorted(set(block) - {"max_share", "entries"})
    if unknown:
        raise CompetitionsError(f"{where}: unknown key {unknown[0]!r} (allowed: max_share, entries)")
    max_share = number(0.0, 1.0)(f"{where} key 'max_share'", block.get("max_share", DEFAULT_MAX_BONUS_SHARE))
    items = block.get("entries", [])
    if not isinstance(items, list) or len(items) > MAX_HALL_OF_FAME_ENTRIES:
        raise CompetitionsError(f"{where} key 'entries' must be a list of at most {MAX_HALL_OF_FAME_ENTRIES} objects")
    entries = []
    for i, item in enumerate(items):
        entry_where = f"{where} entry {i}"
        values = _apply(entry_where, HALL_OF_FAME_ENTRY_SCHEMA, _without_comments(entry_where, item))
        entries.append(BonusEntry(**values))
    return HallOfFame(tuple(entries), max_share)


@dataclass(frozen=True)
class Competitions:
    """A whole valid document: competitions by id (sorted), the hall of fame, and the canonical hash."""

    entries: Mapping[str, Competition]
    hall_of_fame: HallOfFame = field(default_factory=HallOfFame)
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        if not 1 <= len(self.entries) <= MAX_COMPETITIONS:
            raise CompetitionsError(f"the document must define 1-{MAX_COMPETITIONS} competitions")
        for key, comp in self.entries.items():
            if not isinstance(comp, Competition) or comp.id != key:
                raise CompetitionsError(f"entry {key!r} is not a Competition with that id")
        ordered = MappingProxyType({k: self.entries[k] for k in sorted(self.entries)})
        object.__setattr__(self, "entries", ordered)
        object.__setattr__(self, "sha256", hashlib.sha256(self.canonical_json().encode()).hexdigest())

    def canonical_json(self) -> str:
        """The effective document (comments dropped, defaults merged, every field explicit), sorted, compact."""
        doc = {
            "format": CANONICAL_FORMAT,
            "competitions": {k: c.to_dict() for k, c in self.entries.items()},
            HALL_OF_FAME_KEY: self.hall_of_fame.to_dict(),
        }
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def get(self, competition_id: str) -> Competition | None:
        return self.entries.get(competition_id)

    def __hash__(self) -> int:  # the entries mapping is not hashable; the canonical hash stands for it
        return hash(self.sha256)

    def __contains__(self, competition_id: object) -> bool:
        return competition_id in self.entries

    def __len__(self) -> int:
        return len(self.entries)


def parse_competitions(obj: object) -> Competitions:
    """Validate a decoded document (module docstring of `node.competitions`); raise CompetitionsError."""
    document = _without_comments("the competitions document", obj)
    defaults = _without_comments(f"{DEFAULT_KEY!r}", document.pop(DEFAULT_KEY, {}))
    hall_of_fame = _parse_hall_of_fame(document.pop(HALL_OF_FAME_KEY, {}))
    unknown_defaults = sorted(set(defaults) - set(SCHEMA))
    if unknown_defaults:
        raise CompetitionsError(f"{DEFAULT_KEY!r}: unknown key {unknown_defaults[0]!r}")
    if len(document) > MAX_COMPETITIONS:
        raise CompetitionsError(f"the document defines {len(document)} competitions; the limit is {MAX_COMPETITIONS}")
    entries: dict[str, Competition] = {}
    for competition_id in sorted(document):
        if not COMPETITION_ID.fullmatch(competition_id):
            raise CompetitionsError(
                f"competition id {competition_id!r:.60} must be 1-32 ASCII letters, digits, '_' or '-'"
            )
        where = f"competition {competition_id!r}"
        merged = {**defaults, **_without_comments(where, document[competition_id])}
        values = _apply(where, SCHEMA, merged)
        entries[competition_id] = Competition(id=competition_id, **values)
    if not entries:
        raise CompetitionsError("the competitions document defines no competition")
    return Competitions(entries, hall_of_fame)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CompetitionsError(f"duplicate key {key!r} in the competitions document")
        out[key] = value
    return out


def _reject_constant(name: str) -> None:
    raise CompetitionsError(f"{name} is not valid in the competitions document")


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def parse_competitions_bytes(data: bytes, *, max_bytes: int = MAX_DOCUMENT_BYTES) -> Competitions:
    """Decode JSON (size, depth, duplicate-key and NaN limits) and validate it; raise CompetitionsError."""
    if len(data) > max_bytes:
        raise CompetitionsError(f"the competitions document is {len(data)} bytes; the limit is {max_bytes}")
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except CompetitionsError:
        raise
    except RecursionError:
        raise CompetitionsError(f"the competitions document nests deeper than {MAX_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError, and ints over Python's digit limit
        raise CompetitionsError(f"the competitions document is not valid JSON: {exc}") from None
    if _depth(obj) > MAX_DEPTH:
        raise CompetitionsError(f"the competitions document nests deeper than {MAX_DEPTH} levels")
    return parse_competitions(obj)


@lru_cache(maxsize=1)
def bundled_competitions() -> Competitions:
    """The default document shipped with the package (`node/competitions_default.json`)."""
    return parse_competitions_bytes(resources.files("node").joinpath(BUNDLED_FILE).read_bytes())
