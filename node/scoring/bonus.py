"""Hall-of-fame bonuses: decaying extra weight for named hotkeys, capped, mixed in before the average.

An entry `(hotkey, weight, block, decay)` gives `hotkey` a bonus share of `weight * decay **
((current_block - block) / 361)` of the total weight (361 blocks = one epoch); before `block` it
gives nothing (an entry can be announced ahead of time). A hotkey's entries add up. If the bonuses
add up to more than `max_share`, they are scaled down together to `max_share`.

Mixing (`apply_bonus`): with total bonus `B`, the competition weights are scaled to `1 - B` and the
bonuses added on top, then the whole is normalised (so with no competition results the bonuses take
everything, as in the reference). Order in a validator round: competition mix -> `apply_bonus` ->
`ema_update` -> chain.

Differences from the SN29 reference: there, an entry's `reward` was the *total* share paid out over
time (the first epoch paid `reward * (1 - decay)`), the cap was 100 % of the weight, and an entry
with a future block paid more than its nominal value. Here `weight` is the share paid at `block`
(simpler to reason about on a devnet), the default cap is 10 %, and future entries pay nothing yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from node.scoring.weights import check_weights, normalised
from node.scoring.wins import EPOCH_BLOCKS

DEFAULT_BONUS_DECAY = 0.995  # per epoch: about half after a week (139 epochs)
DEFAULT_MAX_BONUS_SHARE = 0.1


@dataclass(frozen=True)
class BonusEntry:
    """One hall-of-fame entry; `weight` in (0, 1] is the share of all weight it pays at `block`."""

    hotkey: str
    weight: float
    block: int
    decay: float = DEFAULT_BONUS_DECAY
    desc: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.hotkey, str) or not self.hotkey:
            raise ValueError("hall-of-fame hotkey must be a non-empty string")
        if isinstance(self.weight, bool) or not (math.isfinite(self.weight) and 0 < self.weight <= 1):
            raise ValueError(f"hall-of-fame weight must be in (0, 1], got {self.weight!r}")
        if isinstance(self.block, bool) or not isinstance(self.block, int) or self.block < 0:
            raise ValueError(f"hall-of-fame block must be an integer >= 0, got {self.block!r}")
        if isinstance(self.decay, bool) or not (math.isfinite(self.decay) and 0 < self.decay <= 1):
            raise ValueError(f"hall-of-fame decay must be in (0, 1], got {self.decay!r}")

    def value_at(self, current_block: int, epoch_blocks: int = EPOCH_BLOCKS) -> float:
        """The bonus share this entry pays at `current_block` (0 before its block)."""
        age = int(current_block) - self.block
        if age < 0:
            return 0.0
        return float(self.weight) * float(self.decay) ** (age / epoch_blocks)


def hall_of_fame_bonus(
    entries: Iterable[BonusEntry],
    current_block: int,
    *,
    max_share: float = DEFAULT_MAX_BONUS_SHARE,
    epoch_blocks: int = EPOCH_BLOCKS,
) -> dict[str, float]:
    """Bonus share per hotkey at `current_block` (module docstring), ordered by hotkey; zero bonuses omitted.

    The result sums to at most `max_share`; entries are summed in a fixed order, so the listing
    order of the document does not change the floats.
    """
    if not (math.isfinite(max_share) and 0 <= max_share <= 1):
        raise ValueError(f"max_share must be in [0, 1], got {max_share}")
    if epoch_blocks <= 0:
        raise ValueError("epoch_blocks must be positive")
    values: dict[str, list[float]] = {}
    for entry in sorted(entries, key=lambda e: (e.hotkey, e.block, e.weight, e.decay, e.desc)):
        value = entry.value_at(current_block, epoch_blocks)
        if value > 0:
            values.setdefault(entry.hotkey, []).append(value)
    bonus = {hotkey: math.fsum(parts) for hotkey, parts in sorted(values.items())}
    total = math.fsum(bonus.values())
    if total > max_share:
        bonus = {hotkey: value * (max_share / total) for hotkey, value in bonus.items()}
    return {hotkey: value for hotkey, value in bonus.items() if value > 0}


def apply_bonus(weights: Mapping[str, float], bonus: Mapping[str, float]) -> dict[str, float]:
    """`(1 - B) * normalised(weights) + bonus`, normalised to sum 1 (or all zero), ordered by hotkey."""
    check_weights(weights)
    check_weights(bonus, "bonus")
    total_bonus = math.fsum(bonus[k] for k in sorted(bonus))
    if total_bonus > 1 + 1e-12:
        raise ValueError(f"bonuses add up to {total_bonus} > 1")
    scale = max(0.0, 1.0 - total_bonus)
    base = normalised(weights)
    mixed = {k: scale * base.get(k, 0.0) + float(bonus.get(k, 0.0)) for k in sorted(set(base) | set(bonus))}
    return normalised(mixed)
