"""From win rates to the weights a validator sets: skew, competition mix, moving average.

Semantics (SN29 reference validator, keyed by hotkey instead of uid):

* Within a competition, weight = `win_rate ** weight_skew_factor`, normalised to sum 1 (a skew
  above 1 favours the leaders). All-zero win rates stay all zero.
* Competitions are mixed additively by their `reward` share: a hotkey with models in two
  competitions keeps both shares. Shares are renormalised over the *live* competitions (a positive
  share and some positive weight), so a competition without results this round hands its share to
  the others, as the reference's final normalisation did.
* The weights set on chain are an exponential moving average, `alpha * previous + (1 - alpha) *
  current`, alpha 0.5. The reference kept it per uid, so a deregistered miner's average passed to
  whoever got the uid next; here it is per hotkey: a new hotkey starts from zero. A hotkey absent
  from a round decays by `alpha`. A round whose weights sum to zero (nothing evaluated) leaves the
  average unchanged instead of halving everyone. The first round (no previous weight) is taken as
  is, as in the reference.

Every function returns a dict ordered by hotkey and sums in that order, so two validators given
the same inputs produce bit-identical floats.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import numpy as np

DEFAULT_EMA_ALPHA = 0.5


def check_weights(weights: Mapping[str, float], what: str = "weights") -> None:
    """Raise ValueError unless every key is a non-empty string and every value finite and >= 0."""
    for key, value in weights.items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"{what}: keys must be non-empty hotkey strings, got {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise ValueError(f"{what}[{key!r}] must be a number, got {type(value).__name__}")
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{what}[{key!r}] must be finite and >= 0, got {value}")


def _total(weights: Mapping[str, float]) -> float:
    return math.fsum(weights[k] for k in sorted(weights))


def normalised(weights: Mapping[str, float]) -> dict[str, float]:
    """`weights` scaled to sum 1, ordered by hotkey; all zero (or empty) stays all zero."""
    check_weights(weights)
    total = _total(weights)
    return {k: (float(weights[k]) / total if total > 0 else 0.0) for k in sorted(weights)}


def skewed_weights(win_rates: object, skew: float) -> np.ndarray:
    """`win_rate ** skew` normalised to sum 1; all zero stays all zero."""
    rates = np.array(win_rates, dtype=np.float64)
    if rates.ndim != 1:
        raise ValueError("win_rates must be 1-D")
    if not (math.isfinite(skew) and skew > 0):
        raise ValueError(f"skew must be finite and > 0, got {skew}")  # 0 ** 0 == 1 would reward losers
    if np.any(~np.isfinite(rates) | (rates < 0) | (rates > 1)):
        raise ValueError("win rates must be in [0, 1]")
    powered = rates**skew
    total = math.fsum(powered.tolist())
    return powered / total if total > 0 else np.zeros_like(powered)


def mix_competitions(competitions: Mapping[str, tuple[float, Mapping[str, float]]]) -> dict[str, float]:
    """Add up `share * weight` over competitions, `{competition: (reward_share, {hotkey: weight})}`.

    Each competition's weights are normalised to sum 1 and the shares to sum 1 over the live
    competitions (share > 0 and positive total weight). The result sums to 1, or is all zero when no
    competition is live; it lists every hotkey given, ordered by hotkey.
    """
    live: list[tuple[float, dict[str, float]]] = []
    hotkeys: set[str] = set()
    for name in sorted(competitions):
        share, weights = competitions[name]
        if isinstance(share, bool) or not isinstance(share, int | float) or not math.isfinite(share) or share < 0:
            raise ValueError(f"competition {name!r}: reward share must be finite and >= 0, got {share!r}")
        check_weights(weights, f"competition {name!r} weights")
        hotkeys.update(weights)
        if share > 0 and _total(weights) > 0:
            live.append((float(share), normalised(weights)))
    total_share = math.fsum(share for share, _ in live)
    out = dict.fromkeys(sorted(hotkeys), 0.0)
    for share, weights in live:
        for hotkey, weight in weights.items():
            out[hotkey] += share / total_share * weight
    return out


def ema_update(
    previous: Mapping[str, float],
    current: Mapping[str, float],
    alpha: float = DEFAULT_EMA_ALPHA,
    *,
    registered: Collection[str] | None = None,
) -> dict[str, float]:
    """One step of the per-hotkey moving average (module docstring), ordered by hotkey.

    `registered`, when given, drops hotkeys that are no longer on the metagraph. A hotkey whose
    average has decayed to exactly 0 and that is absent from `current` is dropped too, so the
    state does not grow without bound.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    check_weights(previous, "previous")
    check_weights(current, "current")

    def keep(hotkey: str) -> bool:
        return registered is None or hotkey in registered

    if _total(current) == 0:
        return {k: float(previous[k]) for k in sorted(previous) if keep(k)}
    if _total(previous) == 0:
        return {k: float(current[k]) for k in sorted(current) if keep(k)}
    out: dict[str, float] = {}
    for hotkey in sorted(set(previous) | set(current)):
        if not keep(hotkey):
            continue
        value = alpha * float(previous.get(hotkey, 0.0)) + (1.0 - alpha) * float(current.get(hotkey, 0.0))
        if value > 0 or hotkey in current:
            out[hotkey] = value
    return out
