"""Which duplication maps the `layer-maps` experiment scores: a map lists, for each executed position of the new
model, the layer of the trained n-layer model that runs there (the seed studies' "which source layer fills which
position").

Two families:
* the insertion grid: one extra copy of source layer `s` inserted before position `p` (p = n appends it after the
  last layer), i.e. `0..p-1, s, p..n-1`; on a coarse grid so the whole grid fits the time budget;
* named maps after the seeds: blocks repeated at the start / middle / end, every layer doubled with and without the
  first and last layers kept in place (seed 000 found keeping them in place mattered), the whole stack repeated
  (seed 000's top row), SOLAR-style depth up-scaling (first 3/4 and last 3/4 of the stack) and a frankenmerge of
  overlapping slices (Goliath-style interleaving, seed 001).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from miner.growth.layer_spec import format_layer_spec, parse_layer_spec


@dataclass(frozen=True)
class LayerMap:
    """One map under a stable name; `source`/`position` are set for insertion-grid maps only."""

    name: str
    layers: tuple[int, ...]
    source: int | None = None
    position: int | None = None

    @property
    def spec(self) -> str:
        """The map in the growth toolkit's `--layers` notation (ascending runs as ranges)."""
        return format_layer_spec(list(self.layers))


def identity(n: int) -> list[int]:
    return list(range(n))


def insertion(n: int, source: int, position: int) -> list[int]:
    """A copy of `source` inserted before executed position `position` (0..n)."""
    if not 0 <= source < n or not 0 <= position <= n:
        raise ValueError(f"insertion needs 0 <= source < {n} and 0 <= position <= {n}, got {source}, {position}")
    return list(range(position)) + [source] + list(range(position, n))


def grid_points(n: int, step: int) -> tuple[list[int], list[int]]:
    """(sources, positions) of the coarse grid: every `step`-th layer plus the last one / the end."""
    if step < 1:
        raise ValueError(f"grid_step must be >= 1, got {step}")
    sources = sorted(set(range(0, n, step)) | {n - 1})
    positions = sorted(set(range(0, n + 1, step)) | {n})
    return sources, positions


def insertion_grid(n: int, step: int) -> list[LayerMap]:
    sources, positions = grid_points(n, step)
    return [LayerMap(f"insert {s}@{p}", tuple(insertion(n, s, p)), source=s, position=p)
            for s in sources for p in positions]


def _thirds(n: int) -> tuple[int, int]:
    return n // 3, (2 * n) // 3


def first_block_x2(n: int) -> list[int]:
    a, _ = _thirds(n)
    return list(range(a)) + list(range(n))


def middle_block_x2(n: int) -> list[int]:
    a, b = _thirds(n)
    return list(range(b)) + list(range(a, n))


def last_block_x2(n: int) -> list[int]:
    _, b = _thirds(n)
    return list(range(n)) + list(range(b, n))


def inner_x2(n: int) -> list[int]:
    """Every layer twice except the first and last, which stay in place (seed 000's row 2 pattern)."""
    return [0] + [i for i in range(1, n - 1) for _ in range(2)] + [n - 1]


def all_x2(n: int) -> list[int]:
    """Every layer twice, the first and last included."""
    return [i for i in range(n) for _ in range(2)]


def repeat_all(n: int) -> list[int]:
    return list(range(n)) * 2


def solar(n: int) -> list[int]:
    """SOLAR depth up-scaling: the first 3/4 of the stack followed by the last 3/4."""
    k = (3 * n) // 4
    return list(range(k)) + list(range(n - k, n))


def frankenmerge(n: int) -> list[int]:
    """Overlapping slices of n/3 layers (at least 2) at half that stride (each overlap runs twice)."""
    width = max(2, n // 3)
    stride = max(1, width // 2)
    out: list[int] = []
    start = 0
    while start + width <= n:
        out += range(start, start + width)
        start += stride
    if out[-1] != n - 1:
        out += range(start, n)
    return out


NAMED: dict[str, Callable[[int], list[int]]] = {
    "identity": identity,
    "first-block-x2": first_block_x2,
    "middle-block-x2": middle_block_x2,
    "last-block-x2": last_block_x2,
    "inner-x2 (first/last in place)": inner_x2,
    "all-x2": all_x2,
    "repeat-all": repeat_all,
    "solar": solar,
    "frankenmerge": frankenmerge,
}


def named_maps(n: int, names: tuple[str, ...], extra_specs: tuple[str, ...] = ()) -> list[LayerMap]:
    """The named maps for an n-layer model, then `extra_specs` (the `--layers` notation, no fresh layers)."""
    unknown = [name for name in names if name not in NAMED]
    if unknown:
        raise ValueError(f"unknown layer map(s) {unknown}; known: {list(NAMED)}")
    maps = [LayerMap(name, tuple(NAMED[name](n))) for name in names]
    for spec in extra_specs:
        layers = parse_layer_spec(spec, n)
        if any(layer is None for layer in layers):
            raise ValueError(f"layer map {spec!r}: fresh layers ('_') have no trained source")
        maps.append(LayerMap(spec, tuple(int(layer) for layer in layers)))
    return maps
