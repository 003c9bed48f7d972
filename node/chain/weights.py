"""Weight normalisation exactly as the chain stores them: max-upscaled u16 values, zeros dropped."""

from __future__ import annotations

import math
from collections.abc import Mapping

from node.chain.errors import InvalidWeightsError

U16_MAX = 65535


def quantize_weights(weights: Mapping[int, float]) -> dict[int, int]:
    """`{uid: weight}` (relative values) to `{uid: u16}` with the largest weight at 65535.

    Matches `bittensor.intents.weights.normalize` (max-upscale, round, drop zeros), so the embedded
    chain stores what finney would. All-zero input gives `{}`.
    """
    for uid, value in weights.items():
        if not isinstance(uid, int) or isinstance(uid, bool) or not 0 <= uid <= U16_MAX:
            raise InvalidWeightsError(f"uid {uid!r} is not an integer in 0..{U16_MAX}")
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise InvalidWeightsError(f"weight for uid {uid} must be finite and non-negative, got {value!r}")
    top = max(weights.values(), default=0)
    if top <= 0:
        return {}
    out = {uid: round(value / top * U16_MAX) for uid, value in sorted(weights.items())}
    return {uid: q for uid, q in out.items() if q > 0}


def fractions(row: Mapping[int, int]) -> dict[int, float]:
    """A stored u16 row as fractions summing to 1 (what `bittensor`'s weights read returns)."""
    total = sum(row.values())
    return {uid: value / total for uid, value in sorted(row.items())} if total else {}
