"""The evaluation pool: which models stay for the next round, and which are discarded for good.

Semantics (SN29 reference validator):

* After a round, a competition keeps its top `pool_size` models by win rate for the next round;
  newcomers (up to `pend_size` per round) join them. Ties are broken by age then name: the older
  commit block first, then the smaller hotkey. (The reference sorted by win rate only, so the
  order among equal win rates depended on dict order.)
* A model that falls out of the pool is *discarded* (never evaluated again for that commitment)
  when its win rate and its absolute win rate are both below `discard_winrate` and it was actually
  evaluated on at least one sample. `discard_winrate = 0` disables discarding.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PoolUpdate:
    """The next pool (best first), the models dropped from it (best first) and the dropped ones discarded."""

    kept: tuple[str, ...]
    dropped: tuple[str, ...]
    discarded: tuple[str, ...]


def rank_models(win_rates: Mapping[str, float], commit_blocks: Mapping[str, int]) -> list[str]:
    """Hotkeys best first: higher win rate, then older commit block, then smaller hotkey."""
    if set(win_rates) != set(commit_blocks):
        missing = sorted(set(win_rates) ^ set(commit_blocks))
        raise ValueError(f"win_rates and commit_blocks must name the same hotkeys; mismatched: {missing[:5]}")
    for hotkey, rate in win_rates.items():
        if not (isinstance(rate, int | float | np.floating) and math.isfinite(rate) and 0 <= rate <= 1):
            raise ValueError(f"win rate of {hotkey!r} must be in [0, 1], got {rate!r}")
    return sorted(win_rates, key=lambda h: (-float(win_rates[h]), int(commit_blocks[h]), h))


def update_pool(
    win_rates: Mapping[str, float],
    commit_blocks: Mapping[str, int],
    pool_size: int,
    *,
    hopeless: Collection[str] = (),
) -> PoolUpdate:
    """Keep the best `pool_size` of the models just evaluated; discard the dropped ones in `hopeless`."""
    if pool_size < 0:
        raise ValueError("pool_size must be >= 0")
    ranked = rank_models(win_rates, commit_blocks)
    kept, dropped = tuple(ranked[:pool_size]), tuple(ranked[pool_size:])
    hopeless_set = set(hopeless)
    return PoolUpdate(kept, dropped, tuple(h for h in dropped if h in hopeless_set))


def hopeless_models(
    win_rates: object,
    absolute_win_rates: object,
    evaluated: object,
    *,
    discard_winrate: float,
) -> np.ndarray:
    """Per model: win rate and absolute win rate both below `discard_winrate`, and evaluated on a sample.

    `evaluated` is each model's count of evaluated samples (`evaluated_samples` of the raw losses).
    All False when `discard_winrate` is 0.
    """
    rates = np.asarray(win_rates, dtype=np.float64)
    absolute = np.asarray(absolute_win_rates, dtype=np.float64)
    counts = np.asarray(evaluated)
    if not (rates.shape == absolute.shape == counts.shape) or rates.ndim != 1:
        raise ValueError("win_rates, absolute_win_rates and evaluated must be 1-D arrays of one length")
    if not (math.isfinite(discard_winrate) and 0 <= discard_winrate <= 1):
        raise ValueError(f"discard_winrate must be in [0, 1], got {discard_winrate}")
    return (rates < discard_winrate) & (absolute < discard_winrate) & (counts > 0)
