"""Scoring: pure functions from per-sample losses to the weights a validator sets.

Shared by the validator and the miner's publish check, so a miner can compute its own score
exactly. No I/O; numpy arrays in, arrays or hotkey-keyed dicts (ordered by hotkey) out.

A round, per competition (models ordered by `(commit_block, hotkey)`):

    losses = group_losses(raw, c.group_samples, seed) if c.group_samples > 1 else raw
    rates = win_rates(losses, blocks, current_block,
                      advantage_initial=c.advantage_initial, advantage_decay=c.advantage_decay)
    weights = dict(zip(hotkeys, skewed_weights(rates, c.weight_skew_factor)))
    hopeless = hopeless_models(rates, absolute_win_rates(losses, blocks), evaluated_samples(raw),
                               discard_winrate=c.discard_winrate)
    update = update_pool(dict(zip(hotkeys, rates)), dict(zip(hotkeys, blocks)), c.pool_size,
                         hopeless=[h for h, x in zip(hotkeys, hopeless) if x])

then across competitions:

    mixed = mix_competitions({c.id: (c.reward, weights_of[c.id]) for c in live})
    final = apply_bonus(mixed, hall_of_fame_bonus(entries, current_block, max_share=...))
    average = ema_update(previous_average, final)          # -> set_weights

The semantics, and where they differ from the SN29 reference validator, are in each module's
docstring: `wins` (advantage rule, grouping), `weights` (skew, mix, EMA), `bonus` (hall of fame),
`pool` (pool and discard).
"""

from node.scoring.bonus import (
    DEFAULT_BONUS_DECAY,
    DEFAULT_MAX_BONUS_SHARE,
    BonusEntry,
    apply_bonus,
    hall_of_fame_bonus,
)
from node.scoring.pool import PoolUpdate, hopeless_models, rank_models, update_pool
from node.scoring.weights import (
    DEFAULT_EMA_ALPHA,
    check_weights,
    ema_update,
    mix_competitions,
    normalised,
    skewed_weights,
)
from node.scoring.wins import (
    EPOCH_BLOCKS,
    absolute_win_rates,
    advantage_factor,
    evaluated_samples,
    group_losses,
    group_permutation,
    sample_winners,
    win_rates,
)

__all__ = [
    "DEFAULT_BONUS_DECAY",
    "DEFAULT_EMA_ALPHA",
    "DEFAULT_MAX_BONUS_SHARE",
    "EPOCH_BLOCKS",
    "BonusEntry",
    "PoolUpdate",
    "absolute_win_rates",
    "advantage_factor",
    "apply_bonus",
    "check_weights",
    "ema_update",
    "evaluated_samples",
    "group_losses",
    "group_permutation",
    "hall_of_fame_bonus",
    "hopeless_models",
    "mix_competitions",
    "normalised",
    "rank_models",
    "sample_winners",
    "skewed_weights",
    "update_pool",
    "win_rates",
]
