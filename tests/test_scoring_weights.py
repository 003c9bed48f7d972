"""node.scoring: skewed weights, competition mix, hall-of-fame bonus, moving average, pool and discard."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.scoring import (
    BonusEntry,
    apply_bonus,
    ema_update,
    hall_of_fame_bonus,
    hopeless_models,
    mix_competitions,
    normalised,
    skewed_weights,
    update_pool,
)

PROPERTY = settings(max_examples=150, deadline=None)  # per test, not a global profile: other modules keep theirs

HOTKEY = st.text(alphabet="abcdefgh", min_size=1, max_size=3)
WEIGHT = st.one_of(st.just(0.0), st.floats(min_value=0.0, max_value=10.0))
WEIGHTS = st.dictionaries(HOTKEY, WEIGHT, max_size=6)


# --- skew -------------------------------------------------------------------------------------------


def test_skewed_weights_values() -> None:
    assert skewed_weights([0.5, 0.25, 0.25, 0.0], 1.0).tolist() == [0.5, 0.25, 0.25, 0.0]
    squared = skewed_weights([0.5, 0.25, 0.25], 2.0)
    assert np.allclose(squared, [0.25 / 0.375, 0.0625 / 0.375, 0.0625 / 0.375])
    assert skewed_weights([0.0, 0.0], 1.2).tolist() == [0.0, 0.0]
    assert skewed_weights([], 1.0).tolist() == []


@pytest.mark.parametrize(("rates", "skew"), [([0.5], 0.0), ([0.5], -1.0), ([0.5], math.inf), ([1.5], 1.0)])
def test_skewed_weights_reject(rates, skew) -> None:
    with pytest.raises(ValueError):
        skewed_weights(rates, skew)


# --- mix --------------------------------------------------------------------------------------------


def test_mix_keeps_both_shares_of_a_hotkey() -> None:
    mixed = mix_competitions(
        {
            "llama": (0.5, {"a": 0.75, "b": 0.25}),
            "phi3": (0.5, {"a": 1.0}),
        }
    )
    assert mixed == {"a": 0.5 * 0.75 + 0.5, "b": 0.125}
    assert list(mixed) == ["a", "b"]


def test_mix_renormalises_over_live_competitions() -> None:
    mixed = mix_competitions(
        {
            "c1": (0.3, {"a": 2.0, "b": 2.0}),  # unnormalised weights are normalised first
            "c2": (0.6, {"c": 0.0}),  # no winner this round: its share goes to the others
            "c3": (0.0, {"d": 1.0}),  # zero share
        }
    )
    assert mixed == {"a": 0.5, "b": 0.5, "c": 0.0, "d": 0.0}
    assert mix_competitions({}) == {}
    assert mix_competitions({"c": (1.0, {"a": 0.0})}) == {"a": 0.0}


@pytest.mark.parametrize(
    "bad",
    [
        {"c": (-1.0, {"a": 1.0})},
        {"c": (math.nan, {"a": 1.0})},
        {"c": (True, {"a": 1.0})},
        {"c": (1.0, {"a": -1.0})},
        {"c": (1.0, {"a": math.inf})},
        {"c": (1.0, {"": 1.0})},
    ],
)
def test_mix_rejects(bad) -> None:
    with pytest.raises(ValueError):
        mix_competitions(bad)


@PROPERTY
@given(st.dictionaries(st.sampled_from(["c1", "c2", "c3"]), st.tuples(st.floats(0, 2), WEIGHTS)))
def test_mix_sums_to_one_or_zero(comps) -> None:
    mixed = mix_competitions(comps)
    total = math.fsum(mixed.values())
    live = any(share > 0 and math.fsum(w.values()) > 0 for share, w in comps.values())
    assert math.isclose(total, 1.0, rel_tol=1e-9) if live else total == 0
    assert list(mixed) == sorted(mixed)
    assert set(mixed) == {h for _, w in comps.values() for h in w}
    reordered = dict(reversed(list(comps.items())))
    assert mix_competitions(reordered) == mixed  # bit-identical whatever the listing order


# --- hall of fame -----------------------------------------------------------------------------------


def test_bonus_decays_per_epoch_and_waits_for_its_block() -> None:
    entry = BonusEntry("a", 0.08, block=1000, decay=0.5)
    assert hall_of_fame_bonus([entry], 1000) == {"a": 0.08}
    assert hall_of_fame_bonus([entry], 1000 + 361) == {"a": 0.04}
    assert hall_of_fame_bonus([entry], 1000 + 722) == {"a": 0.02}
    assert hall_of_fame_bonus([entry], 999) == {}
    assert BonusEntry("a", 0.1, 0).decay == 0.995


def test_bonus_entries_add_and_are_capped() -> None:
    entries = [BonusEntry("a", 0.05, 0), BonusEntry("a", 0.02, 0), BonusEntry("b", 0.09, 0)]
    assert hall_of_fame_bonus(entries, 0, max_share=1.0) == pytest.approx({"a": 0.07, "b": 0.09})
    capped = hall_of_fame_bonus(entries, 0, max_share=0.08)
    assert capped == pytest.approx({"a": 0.08 * 0.07 / 0.16, "b": 0.08 * 0.09 / 0.16})
    assert math.isclose(sum(capped.values()), 0.08)
    assert hall_of_fame_bonus(entries, 0, max_share=0.0) == {}
    assert hall_of_fame_bonus(entries[::-1], 0) == hall_of_fame_bonus(entries, 0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"hotkey": "", "weight": 0.1, "block": 0},
        {"hotkey": "a", "weight": 0.0, "block": 0},
        {"hotkey": "a", "weight": 1.5, "block": 0},
        {"hotkey": "a", "weight": math.nan, "block": 0},
        {"hotkey": "a", "weight": 0.1, "block": -1},
        {"hotkey": "a", "weight": 0.1, "block": 1.5},
        {"hotkey": "a", "weight": 0.1, "block": True},
        {"hotkey": "a", "weight": 0.1, "block": 0, "decay": 0.0},
        {"hotkey": "a", "weight": 0.1, "block": 0, "decay": 1.1},
    ],
)
def test_bonus_entry_rejects(kwargs) -> None:
    with pytest.raises(ValueError, match="hall-of-fame"):
        BonusEntry(**kwargs)


def test_apply_bonus() -> None:
    mixed = apply_bonus({"a": 0.5, "b": 0.5}, {"b": 0.1, "c": 0.1})
    assert mixed == pytest.approx({"a": 0.4, "b": 0.5, "c": 0.1})
    assert apply_bonus({"a": 1.0}, {}) == {"a": 1.0}
    assert apply_bonus({}, {"c": 0.1}) == {"c": 1.0}  # no competition results: the bonus takes all
    assert apply_bonus({"a": 0.0}, {}) == {"a": 0.0}
    with pytest.raises(ValueError, match="> 1"):
        apply_bonus({"a": 1.0}, {"b": 0.7, "c": 0.7})


@PROPERTY
@given(
    st.lists(
        st.builds(
            BonusEntry,
            hotkey=HOTKEY,
            weight=st.floats(min_value=1e-6, max_value=1.0),
            block=st.integers(0, 5000),
            decay=st.floats(min_value=0.01, max_value=1.0),
        ),
        max_size=6,
    ),
    st.integers(0, 6000),
    st.floats(0, 1),
    WEIGHTS,
)
def test_bonus_is_capped_and_mixes_to_one(entries, block, max_share, weights) -> None:
    bonus = hall_of_fame_bonus(entries, block, max_share=max_share)
    assert math.fsum(bonus.values()) <= max_share * (1 + 1e-12)
    assert all(v > 0 for v in bonus.values())
    final = apply_bonus(weights, bonus)
    total = math.fsum(final.values())
    assert math.isclose(total, 1.0, rel_tol=1e-9) or (total == 0 and not bonus and not any(weights.values()))
    if math.fsum(weights.values()) > 0:
        for hotkey, value in bonus.items():  # a bonus is paid on top, at its face value
            assert final[hotkey] >= value * (1 - 1e-9)


# --- moving average ---------------------------------------------------------------------------------


def test_ema_step() -> None:
    assert ema_update({"a": 0.6, "b": 0.4}, {"a": 0.2, "c": 0.8}) == {"a": 0.4, "b": 0.2, "c": 0.4}
    assert ema_update({"a": 1.0}, {"b": 1.0}, alpha=0.25) == {"a": 0.25, "b": 0.75}


def test_ema_first_round_zero_round_and_new_hotkeys() -> None:
    assert ema_update({}, {"a": 0.3, "b": 0.7}) == {"a": 0.3, "b": 0.7}  # first round taken as is
    assert ema_update({"a": 0.0}, {"b": 1.0}) == {"b": 1.0}
    previous = {"a": 0.6, "b": 0.4}
    assert ema_update(previous, {}) == previous  # nothing evaluated: the average is kept
    assert ema_update(previous, {"a": 0.0, "z": 0.0}) == previous
    # uid reused by a new hotkey: the old hotkey decays, the new one starts from zero
    assert ema_update({"old": 1.0}, {"new": 1.0}) == {"new": 0.5, "old": 0.5}


def test_ema_drops_deregistered_and_vanished_hotkeys() -> None:
    assert ema_update({"a": 0.5, "b": 0.5}, {"a": 1.0}, registered={"a"}) == {"a": 0.75}
    assert ema_update({"a": 0.5}, {}, registered=set()) == {}
    tiny = {"a": 5e-324, "b": 1.0}
    assert ema_update(tiny, {"b": 1.0}) == {"b": 1.0}  # decayed to exactly 0 and absent: gone
    assert ema_update(tiny, {"a": 0.0, "b": 1.0}) == {"a": 0.0, "b": 1.0}  # still listed this round


@pytest.mark.parametrize(
    ("previous", "current", "alpha"),
    [({"a": -1.0}, {"a": 1.0}, 0.5), ({"a": 1.0}, {"a": math.nan}, 0.5), ({"a": 1.0}, {"a": 1.0}, 1.5)],
)
def test_ema_rejects(previous, current, alpha) -> None:
    with pytest.raises(ValueError):
        ema_update(previous, current, alpha)


@PROPERTY
@given(WEIGHTS, st.floats(0, 1))
def test_ema_fixed_point(weights, alpha) -> None:
    again = ema_update(weights, weights, alpha)
    assert set(again) <= set(weights)
    for hotkey, value in again.items():
        assert math.isclose(value, weights[hotkey], rel_tol=1e-12, abs_tol=1e-300)


@PROPERTY
@given(WEIGHTS, WEIGHTS, st.floats(0, 1))
def test_ema_is_a_convex_combination(previous, current, alpha) -> None:
    out = ema_update(previous, current, alpha)
    assert list(out) == sorted(out)
    if math.fsum(current.values()) == 0:
        assert out == {k: previous[k] for k in sorted(previous)}
        return
    if math.fsum(previous.values()) == 0:
        assert out == {k: current[k] for k in sorted(current)}
        return
    for hotkey, value in out.items():
        low = min(previous.get(hotkey, 0.0), current.get(hotkey, 0.0))
        high = max(previous.get(hotkey, 0.0), current.get(hotkey, 0.0))
        assert low * (1 - 1e-12) <= value <= high * (1 + 1e-12)
    total = math.fsum(out.values())
    expected = alpha * math.fsum(previous.values()) + (1 - alpha) * math.fsum(current.values())
    assert math.isclose(total, expected, rel_tol=1e-9, abs_tol=1e-300)


def test_normalised() -> None:
    assert normalised({"b": 3.0, "a": 1.0}) == {"a": 0.25, "b": 0.75}
    assert list(normalised({"b": 3.0, "a": 1.0})) == ["a", "b"]
    assert normalised({"a": 0.0}) == {"a": 0.0}


# --- pool and discard -------------------------------------------------------------------------------


def test_pool_keeps_the_best_and_breaks_ties_by_age_then_hotkey() -> None:
    rates = {"e": 0.1, "d": 0.3, "c": 0.3, "b": 0.3, "a": 0.0}
    blocks = {"e": 1, "d": 5, "c": 9, "b": 5, "a": 0}
    update = update_pool(rates, blocks, 3, hopeless={"a", "d"})
    assert update.kept == ("b", "d", "c")  # equal rates: block 5 before 9, then "b" before "d"
    assert update.dropped == ("e", "a")
    assert update.discarded == ("a",)  # "d" is hopeless but stays in the pool: not discarded
    assert update_pool(rates, blocks, 10).dropped == ()
    assert update_pool(rates, blocks, 0).kept == ()
    assert update_pool({}, {}, 3) == update_pool({}, {}, 3)


def test_pool_rejects() -> None:
    with pytest.raises(ValueError, match="same hotkeys"):
        update_pool({"a": 0.5}, {"b": 1}, 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        update_pool({"a": 1.5}, {"a": 1}, 2)
    with pytest.raises(ValueError, match="pool_size"):
        update_pool({"a": 0.5}, {"a": 1}, -1)


@PROPERTY
@given(
    st.dictionaries(HOTKEY, st.tuples(st.sampled_from([0.0, 0.1, 0.5, 1.0]), st.integers(0, 3))),
    st.integers(0, 8),
)
def test_pool_is_the_top_and_independent_of_listing_order(models, pool_size) -> None:
    rates = {h: r for h, (r, _) in models.items()}
    blocks = {h: b for h, (_, b) in models.items()}
    update = update_pool(rates, blocks, pool_size)
    assert len(update.kept) == min(pool_size, len(models))
    assert set(update.kept) | set(update.dropped) == set(models)
    assert not set(update.kept) & set(update.dropped)
    if update.kept and update.dropped:
        assert min(rates[h] for h in update.kept) >= max(rates[h] for h in update.dropped)
    reversed_rates = dict(reversed(list(rates.items())))
    assert update_pool(reversed_rates, blocks, pool_size) == update


def test_hopeless_models() -> None:
    flags = hopeless_models([0.01, 0.01, 0.05, 0.0], [0.01, 0.05, 0.01, 0.0], [10, 10, 10, 0], discard_winrate=0.02)
    assert flags.tolist() == [True, False, False, False]  # the last was never evaluated
    assert not hopeless_models([0.0], [0.0], [5], discard_winrate=0.0).any()  # 0 disables discarding
    with pytest.raises(ValueError, match="one length"):
        hopeless_models([0.0], [0.0, 0.1], [1], discard_winrate=0.02)
    with pytest.raises(ValueError, match="discard_winrate"):
        hopeless_models([0.0], [0.0], [1], discard_winrate=2.0)
