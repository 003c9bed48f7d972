"""Rotary-embedding parameters checked before transformers reads them.

Upstream looks the rope type up in a dict (KeyError for an unknown one), multiplies by factors
without checking they are numbers, and only Phi3 checks the long/short factor lengths. Here every
key of `rope_parameters` (or the legacy `rope_scaling` / `rope_theta`) is known, numeric where it
must be, finite and in range, and the rotary dimension it implies is even and at least 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config_fields import bad, is_int, is_number

ROPE_TYPES = {"llama": frozenset({"default", "linear", "dynamic", "llama3", "yarn"}),
              "phi3": frozenset({"default", "longrope"})}
ROPE_KEYS = {
    "default": frozenset(),
    "linear": frozenset({"factor"}),
    "dynamic": frozenset({"factor", "original_max_position_embeddings"}),
    "llama3": frozenset({"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}),
    "yarn": frozenset({"factor", "original_max_position_embeddings", "attention_factor", "beta_fast", "beta_slow",
                       "mscale", "mscale_all_dim", "truncate"}),
    "longrope": frozenset({"short_factor", "long_factor", "original_max_position_embeddings", "attention_factor",
                           "factor"}),
}
COMMON_KEYS = frozenset({"rope_type", "type", "rope_theta", "partial_rotary_factor"})
REQUIRED = {"linear": {"factor"}, "dynamic": {"factor"}, "yarn": {"factor"},
            "llama3": {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"},
            "longrope": {"short_factor", "long_factor"}}
NUMBER_RANGES = {  # key -> (lower, upper), lower exclusive
    "rope_theta": (0.0, 1e12),
    "factor": (0.0, 1e4),
    "low_freq_factor": (0.0, 1e4),
    "high_freq_factor": (0.0, 1e4),
    "attention_factor": (0.0, 1e4),
    "beta_fast": (0.0, 1e4),
    "beta_slow": (0.0, 1e4),
    "mscale": (0.0, 1e4),
    "mscale_all_dim": (0.0, 1e4),
    "partial_rotary_factor": (0.0, 1.0),
}


def rope_parameters(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The rope parameters as transformers will see them (new key first, then the legacy keys)."""
    params = raw.get("rope_parameters")
    if params is None:
        params = raw.get("rope_scaling")
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise bad("rope_parameters", f"must be an object, got {params!r:.60}")
    return params


def check_rope(raw: Mapping[str, Any], model_type: str, head_dim: int, max_positions: int) -> None:
    params = rope_parameters(raw)
    for legacy in ("rope_theta", "partial_rotary_factor"):
        if legacy in raw and raw[legacy] is not None:
            _number(legacy, raw[legacy])
    rope_type = params.get("rope_type", params.get("type", "default"))
    allowed = ROPE_TYPES[model_type]
    if not isinstance(rope_type, str) or rope_type not in allowed:
        raise bad("rope_parameters.rope_type", f"{rope_type!r:.60} is not one of {sorted(allowed)}")
    unknown = set(params) - COMMON_KEYS - ROPE_KEYS[rope_type]
    if unknown:
        raise bad("rope_parameters", f"unknown key(s) {sorted(map(str, unknown))[:5]} for rope_type {rope_type!r}")
    missing = REQUIRED.get(rope_type, set()) - set(params)
    if missing:
        raise bad("rope_parameters", f"rope_type {rope_type!r} needs {sorted(missing)}")
    for key, value in params.items():
        if key in NUMBER_RANGES:
            _number(key, value)
    if "factor" in params and rope_type != "longrope" and params["factor"] < 1:
        raise bad("rope_parameters.factor", f"{params['factor']} < 1 would shrink the position range")
    if rope_type == "llama3" and not params["high_freq_factor"] > params["low_freq_factor"]:
        raise bad("rope_parameters", "high_freq_factor must exceed low_freq_factor")
    original = params.get("original_max_position_embeddings")
    if original is not None and (not is_int(original) or not 1 <= original <= max_positions):
        raise bad("rope_parameters.original_max_position_embeddings", f"{original!r:.40} is outside [1, "
                  f"{max_positions}]")
    factor = params.get("partial_rotary_factor", raw.get("partial_rotary_factor", 1.0))
    factor = 1.0 if factor is None else factor
    rotary = int(head_dim * factor)
    if rotary < 2 or rotary % 2:
        raise bad("partial_rotary_factor", f"{factor} x head_dim {head_dim} gives a rotary dimension of {rotary}; "
                  "it must be even and at least 2")
    for key in ("short_factor", "long_factor"):
        if key in params:
            values = params[key]
            if not isinstance(values, list) or len(values) != rotary // 2:
                raise bad(f"rope_parameters.{key}", f"must be a list of {rotary // 2} numbers")
            if not all(is_number(v) and v > 0 for v in values):
                raise bad(f"rope_parameters.{key}", "must hold positive finite numbers")


def _number(key: str, value: Any) -> None:
    lower, upper = NUMBER_RANGES[key]
    if not is_number(value) or not lower < value <= upper:
        raise bad(f"rope {key}", f"{value!r:.60} is not a number in ({lower}, {upper}]")
