"""Turn a round's stored losses into win rates, weights, the moving average and the next pools.

Only arranging data happens here; every rule is a pure function of `node.scoring` (which the miner's publish
check calls too). Models enter each competition's matrix ordered by `(commit_block, hotkey)`, so the older
model is the incumbent on every sample. Identical content committed under two hotkeys is scored once: the
earlier commitment keeps it, the later one gets nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from node import scoring
from node.competitions import Competition
from node.data.seeding import derive_seed
from validator.state import RoundResult


@dataclass(frozen=True)
class ScoredModel:
    """One evaluated model of a competition with its round losses (sample order of the round)."""

    hotkey: str
    uid: int | None
    pointer: str
    commit_block: int
    content_hash: str
    losses: Sequence[float]
    tokens: Sequence[int]


@dataclass
class RoundScore:
    results: list[RoundResult] = field(default_factory=list)
    weights: dict[str, float] = field(default_factory=dict)  # after mixing and bonuses, before the average
    ema: dict[str, float] = field(default_factory=dict)
    pools: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (hotkey, message)
    discarded: list[tuple[str, str]] = field(default_factory=list)  # (hotkey, pointer)


def split_duplicates(models: Sequence[ScoredModel]) -> tuple[list[ScoredModel], list[tuple[str, str]]]:
    """Keep the earliest commitment of each content hash; the rest are duplicates."""
    owners: dict[str, ScoredModel] = {}
    kept, duplicates = [], []
    for model in sorted(models, key=lambda m: (m.commit_block, m.hotkey)):
        owner = owners.get(model.content_hash)
        if owner is None:
            owners[model.content_hash] = model
            kept.append(model)
        else:
            message = f"same files as {owner.hotkey}'s commitment at block {owner.commit_block}"
            duplicates.append((model.hotkey, message))
    return kept, duplicates


def mean_loss_per_token(losses: Sequence[float], tokens: Sequence[int]) -> float | None:
    pairs = [(x, t) for x, t in zip(losses, tokens, strict=True) if math.isfinite(x) and t > 0]
    total = sum(t for _, t in pairs)
    return sum(x for x, _ in pairs) / total if total else None


def score_competition(competition: Competition, models: Sequence[ScoredModel], round_block: int, seed: int,
                      carried: Sequence[tuple[str, str]] = ()) -> tuple[dict[str, float], list[RoundResult],
                                                                        list[tuple[str, str]], list[tuple[str, str]]]:
    """(weights by hotkey, results, next pool, discarded) for one competition.

    `carried` are pool members this round could not evaluate for reasons not their own (hub down): they stay.
    """
    ordered = sorted(models, key=lambda m: (m.commit_block, m.hotkey))
    if not ordered:
        return {}, [], list(carried), []
    raw = np.array([list(m.losses) for m in ordered], dtype=np.float64)
    blocks = [m.commit_block for m in ordered]
    hotkeys = [m.hotkey for m in ordered]
    grouped = raw
    if competition.group_samples > 1:
        grouped = scoring.group_losses(raw, competition.group_samples, derive_seed(seed, "group", competition.id))
    rates = scoring.win_rates(grouped, blocks, round_block, advantage_initial=competition.advantage_initial,
                              advantage_decay=competition.advantage_decay)
    weights = scoring.skewed_weights(rates, competition.weight_skew_factor)
    hopeless = scoring.hopeless_models(rates, scoring.absolute_win_rates(raw, blocks), scoring.evaluated_samples(raw),
                                       discard_winrate=competition.discard_winrate)
    update = scoring.update_pool(
        dict(zip(hotkeys, rates.tolist(), strict=True)), dict(zip(hotkeys, blocks, strict=True)),
        competition.pool_size, hopeless=[h for h, x in zip(hotkeys, hopeless, strict=True) if x],
    )
    by_hotkey = {m.hotkey: m for m in ordered}
    pool = [(h, by_hotkey[h].pointer) for h in update.kept]
    pool += [(h, p) for h, p in carried if h not in by_hotkey]
    results = [
        RoundResult(competition.id, m.hotkey, m.uid, float(rate), float(weight),
                    mean_loss_per_token(m.losses, m.tokens), len(m.losses))
        for m, rate, weight in zip(ordered, rates, weights, strict=True)
    ]
    discarded = [(h, by_hotkey[h].pointer) for h in update.discarded]
    return dict(zip(hotkeys, weights.tolist(), strict=True)), results, pool, discarded


def score_round(
    competitions: Mapping[str, Competition],
    models: Mapping[str, Sequence[ScoredModel]],
    round_block: int,
    seed: int,
    previous_ema: Mapping[str, float],
    *,
    registered: set[str],
    alpha: float,
    bonus_entries: Sequence[scoring.BonusEntry] = (),
    max_bonus_share: float = scoring.DEFAULT_MAX_BONUS_SHARE,
    carried: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> RoundScore:
    """Every competition of the round, mixed, with bonuses and the moving average."""
    out = RoundScore()
    per_competition: dict[str, tuple[float, dict[str, float]]] = {}
    for cid in sorted(competitions):
        competition = competitions[cid]
        kept, duplicates = split_duplicates(models.get(cid, ()))
        out.duplicates += duplicates
        weights, results, pool, discarded = score_competition(competition, kept, round_block, seed,
                                                              (carried or {}).get(cid, ()))
        out.results += results
        out.pools[cid] = pool
        out.discarded += discarded
        per_competition[cid] = (competition.reward, weights)
    mixed = scoring.mix_competitions(per_competition)
    bonus = scoring.hall_of_fame_bonus(bonus_entries, round_block, max_share=max_bonus_share)
    bonus = {h: v for h, v in bonus.items() if h in registered}
    out.weights = scoring.apply_bonus(mixed, bonus) if (bonus or mixed) else {}
    out.ema = scoring.ema_update(previous_ema, out.weights, alpha, registered=registered)
    return out
