"""Experiment configs: frozen dataclasses read from a YAML/JSON file plus `--set KEY=VALUE` overrides.

Unknown keys are errors (a typo must not silently run the default); values are converted to the field's
declared type (int, float, bool, str, tuples of those), so `--set seeds=[0,1,2]` and YAML lists both work.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

import yaml

from node.mapping_file import read_mapping_file


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """`["a=1", "b=[2,3]"]` -> `{"a": 1, "b": [2, 3]}` (each value read as YAML)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"bad --set {pair!r}: expected KEY=VALUE")
        out[key.strip().replace("-", "_")] = yaml.safe_load(text)
    return out


def _convert(name: str, hint: Any, value: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            value = [value]
        args = typing.get_args(hint)
        inner = args[0] if args else Any
        return tuple(_convert(name, inner, v) for v in value)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None:
            return None
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(name, options[0], value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"setting {name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"setting {name} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads `1e-3` (no dot) as text
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"setting {name} must be a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"setting {name} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"setting {name} must be a string, got {value!r}")
        return value
    return value


def config_from_mapping(config_type: type, data: dict[str, Any]) -> Any:
    """An instance of the frozen dataclass `config_type` from `data`; unknown keys and wrong types are errors."""
    hints = typing.get_type_hints(config_type)
    known = {f.name for f in dataclasses.fields(config_type)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {config_type.__name__} setting(s) {unknown}; known: {sorted(known)}")
    return config_type(**{k: _convert(k, hints[k], v) for k, v in data.items()})


def load_config(config_type: type, path: str | Path | None, sets: list[str] | None = None) -> Any:
    """The file's settings (none: the dataclass defaults), then the `--set` overrides."""
    data = read_mapping_file(path, f"an experiment config ({config_type.__name__})") if path else {}
    return config_from_mapping(config_type, {**data, **parse_sets(sets or [])})


def config_dict(config: Any) -> dict[str, Any]:
    """The config as plain data (tuples as lists), for the run's `config.yaml`."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()}
