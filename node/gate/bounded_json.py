"""JSON from an untrusted file, parsed in bounded time and memory, or refused with BAD_JSON.

Python's `json` has three soft spots for hostile input: nesting recurses (a few thousand `[` raise
RecursionError, deeper ones can crash), integers of any length are converted (quadratic time, and
Python refuses over 4300 digits with a bare ValueError), and `NaN`/`Infinity` are accepted. So the
nesting depth is measured first by a linear scan that never recurses, integers are length-checked
in `parse_int` before conversion, constants are refused, and duplicate keys (where two readers could
see different values) are refused too. The byte limit is the caller's (`read_limited`).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from node.refusal import RefusalKind, Refused

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


def nesting_depth(data: bytes) -> int:
    """Deepest bracket nesting outside strings; linear, no recursion."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if match.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_json(data: bytes, what: str, *, max_depth: int = 32, max_int_digits: int = 40) -> Any:
    """Parse `data` (already size-limited) or raise Refused(BAD_JSON) naming `what` and the rule."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    depth = nesting_depth(data)
    if depth > max_depth:
        raise Refused(RefusalKind.BAD_JSON, f"{what}: nested {depth} deep; the limit is {max_depth}")

    def parse_int(text: str) -> int:
        digits = len(text.lstrip("-"))
        if digits > max_int_digits:
            raise Refused(RefusalKind.BAD_JSON, f"{what}: an integer of {digits} digits (limit {max_int_digits})")
        return int(text)

    def parse_float(text: str) -> float:
        if len(text) > 64:
            raise Refused(RefusalKind.BAD_JSON, f"{what}: a number written with {len(text)} characters")
        value = float(text)
        if not math.isfinite(value):
            raise Refused(RefusalKind.BAD_JSON, f"{what}: number {text[:40]} overflows to infinity")
        return value

    def parse_constant(text: str) -> float:
        raise Refused(RefusalKind.BAD_JSON, f"{what}: {text} is not JSON")

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(items)
        if len(result) != len(items):
            seen: set[str] = set()
            twice = next(key for key, _ in items if key in seen or seen.add(key))
            raise Refused(RefusalKind.BAD_JSON, f"{what}: key {twice[:80]!r} appears twice")
        return result

    try:
        text = data.decode("utf-8")
        return json.loads(text, parse_int=parse_int, parse_float=parse_float, parse_constant=parse_constant,
                          object_pairs_hook=pairs)
    except Refused:
        raise
    except UnicodeDecodeError as exc:
        raise Refused(RefusalKind.BAD_JSON, f"{what}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise Refused(RefusalKind.BAD_JSON, f"{what}: not valid JSON: {str(exc)[:200]}") from None
