"""Value checks for the competitions document: one small validator per kind of field.

Each validator takes `(where, value)`, where `where` names the competition and key for the
message (e.g. `competition 'llama' key 'pool_size'`), and returns the normalised value (ints as
int, numbers as float, lists as tuples) or raises `CompetitionsError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

Check = Callable[[str, object], object]

ARCHITECTURE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}", re.ASCII)


class CompetitionsError(ValueError):
    """The competitions document is invalid (the message names the competition and key) or unreadable."""


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def integer(low: int, high: int) -> Check:
    """An integer in [low, high]; an integral JSON float such as `2.5e9` is accepted as that integer."""

    def check(where: str, value: object) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise CompetitionsError(f"{where} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise CompetitionsError(f"{where} must be in [{low}, {high}], got {value}")
        return value

    return check


def number(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Check:
    """A finite number in the interval (`low_open`/`high_open` exclude the bound)."""
    left, right = "(" if low_open else "[", ")" if high_open else "]"

    def check(where: str, value: object) -> float:
        if not _is_number(value) or not math.isfinite(value):
            raise CompetitionsError(f"{where} must be a finite number, got {value!r}")
        value = float(value)
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            raise CompetitionsError(f"{where} must be in {left}{low}, {high}{right}, got {value}")
        return value

    return check


def boolean(where: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise CompetitionsError(f"{where} must be true or false, got {value!r}")
    return value


def choice(options: Sequence[str]) -> Check:
    def check(where: str, value: object) -> str:
        if value not in options or not isinstance(value, str):
            raise CompetitionsError(f"{where} must be one of {list(options)}, got {value!r}")
        return value

    return check


def text(max_len: int, pattern: re.Pattern[str] | None = None) -> Check:
    """A non-empty string without control characters (and matching `pattern` when given)."""

    def check(where: str, value: object) -> str:
        if not isinstance(value, str) or not value or len(value) > max_len:
            raise CompetitionsError(f"{where} must be a string of 1-{max_len} characters, got {value!r:.80}")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise CompetitionsError(f"{where} must not contain control characters")
        if pattern is not None and not pattern.fullmatch(value):
            raise CompetitionsError(f"{where} {value!r} does not match {pattern.pattern}")
        return value

    return check


def optional(inner: Check) -> Check:
    """`null` or what `inner` accepts."""

    def check(where: str, value: object) -> object:
        return None if value is None else inner(where, value)

    return check


def architectures(where: str, value: object) -> tuple[str, ...]:
    """A non-empty list of distinct architecture class names (compared exactly, never as substrings)."""
    if not isinstance(value, list) or not 1 <= len(value) <= 16:
        raise CompetitionsError(f"{where} must be a list of 1-16 architecture class names, got {value!r:.80}")
    names = tuple(text(100, ARCHITECTURE_NAME)(f"{where}[{i}]", item) for i, item in enumerate(value))
    if len(set(names)) != len(names):
        raise CompetitionsError(f"{where} lists an architecture twice")
    return names
