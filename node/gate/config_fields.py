"""Type and range checks for single config values, each refusing with the field's name.

The upstream config classes validate types but not ranges: `num_attention_heads: 0` reaches a
modulo, a negative size reaches `nn.Linear`, a huge one reaches the allocator. These helpers run on
the raw JSON dict before any config class is constructed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from node.refusal import RefusalKind, Refused

MISSING = object()


def bad(field: str, message: str, kind: RefusalKind = RefusalKind.BAD_CONFIG) -> Refused:
    return Refused(kind, f"config {field}: {message}")


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) and math.isfinite(value)


def positive_int(raw: Mapping[str, Any], field: str, upper: int, *, default: Any = MISSING) -> int:
    """A required (or defaulted) integer in [1, upper]."""
    value = raw.get(field, default)
    if value is MISSING:
        raise bad(field, "is missing")
    if not is_int(value):
        raise bad(field, f"must be an integer, got {value!r:.60}")
    if not 1 <= value <= upper:
        raise bad(field, f"{value} is outside [1, {upper}]")
    return value


def optional_int(raw: Mapping[str, Any], field: str, lower: int, upper: int) -> int | None:
    value = raw.get(field)
    if value is None:
        return None
    if not is_int(value):
        raise bad(field, f"must be an integer or null, got {value!r:.60}")
    if not lower <= value <= upper:
        raise bad(field, f"{value} is outside [{lower}, {upper}]")
    return value


def number_in(raw: Mapping[str, Any], field: str, lower: float, upper: float, *, default: Any = MISSING,
              open_lower: bool = False) -> float | None:
    """A finite number in [lower, upper] ((lower, upper] when `open_lower`); absent gives `default`."""
    value = raw.get(field, default)
    if value is MISSING:
        raise bad(field, "is missing")
    if value is None and default is None:
        return None
    if not is_number(value):
        raise bad(field, f"must be a finite number, got {value!r:.60}")
    if value < lower or value > upper or (open_lower and value == lower):
        interval = f"({lower}, {upper}]" if open_lower else f"[{lower}, {upper}]"
        raise bad(field, f"{value} is outside {interval}")
    return value


def boolean(raw: Mapping[str, Any], field: str, default: bool) -> bool:
    value = raw.get(field, default)
    if not isinstance(value, bool):
        raise bad(field, f"must be true or false, got {value!r:.60}")
    return value


def one_of(raw: Mapping[str, Any], field: str, allowed: frozenset[str], default: Any) -> Any:
    value = raw.get(field, default)
    if value is None and default is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise bad(field, f"{value!r:.60} is not one of {sorted(allowed)}")
    return value


def token_id(raw: Mapping[str, Any], field: str, vocab: int) -> None:
    """A special token id: null, an id inside the vocabulary, or (eos) a short list of such ids."""
    value = raw.get(field)
    values = value if isinstance(value, list) and field == "eos_token_id" else [value]
    if len(values) > 64:
        raise bad(field, f"lists {len(values)} ids; at most 64")
    for item in values:
        if item is None and len(values) == 1:
            continue
        if not is_int(item) or not 0 <= item < vocab:
            raise bad(field, f"{item!r:.60} is not a token id of the vocabulary [0, {vocab})")
