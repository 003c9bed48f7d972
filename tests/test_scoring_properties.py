"""Property tests (hypothesis) of node.scoring: invariants that must hold for any input."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from node.scoring import (
    absolute_win_rates,
    advantage_factor,
    group_losses,
    group_permutation,
    sample_winners,
    skewed_weights,
    win_rates,
)

PROPERTY = settings(max_examples=150, deadline=None)  # per test, not a global profile: other modules keep theirs

# losses: a few exact-ish values (so ties and exact thresholds happen) plus failures
LOSS = st.one_of(
    st.sampled_from([0.0, 1.0, 2.0, 7.0, 8.0, 100.0, math.nan, math.inf]),
    st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False),
)
ADVANTAGE = st.fixed_dictionaries(
    {
        "advantage_initial": st.sampled_from([0.0, 0.004, 0.25, 0.5, 0.99]),
        "advantage_decay": st.sampled_from([1.0, 0.995, 0.5, 1e-3]),
    }
)


@st.composite
def rounds(draw, min_models: int = 1, max_models: int = 6, distinct_blocks: bool = False):
    n_models = draw(st.integers(min_models, max_models))
    n_samples = draw(st.integers(0, 12))
    losses = draw(arrays(np.float64, (n_models, n_samples), elements=LOSS))
    block = st.integers(0, 3000)
    if distinct_blocks:
        blocks = draw(st.lists(block, min_size=n_models, max_size=n_models, unique=True))
    else:
        blocks = draw(st.lists(st.integers(0, 5), min_size=n_models, max_size=n_models))
        blocks = [b * 400 for b in blocks]  # coarse, so equal blocks are common
    current = draw(st.integers(0, 3500))
    return losses, np.array(blocks, dtype=np.int64), current, draw(ADVANTAGE)


def oracle_winners(losses, blocks, current, adv) -> list[int]:
    """The rule as written in the module docstring, one sample and one model at a time."""
    order = sorted(range(len(blocks)), key=lambda i: (blocks[i], i))
    out = []
    for s in range(losses.shape[1]):
        best = None
        for m in order:
            loss = float(losses[m, s])
            loss = loss if math.isfinite(loss) else math.inf
            if best is None or loss < best[1] * best[2]:
                best = (m, loss, advantage_factor(int(blocks[m]), current, **adv))
        out.append(best[0] if best is not None and math.isfinite(best[1]) else -1)
    return out


@PROPERTY
@given(rounds())
def test_matches_the_scalar_rule(case) -> None:
    losses, blocks, current, adv = case
    assert sample_winners(losses, blocks, current, **adv).tolist() == oracle_winners(losses, blocks, current, adv)


@PROPERTY
@given(rounds())
def test_rates_are_a_partition_of_the_won_samples(case) -> None:
    losses, blocks, current, adv = case
    rates = win_rates(losses, blocks, current, **adv)
    assert np.all((rates >= 0) & (rates <= 1))
    assert rates.sum() <= 1 + 1e-12
    if losses.shape[1]:
        decided = np.any(np.isfinite(losses), axis=0).mean()
        assert math.isclose(rates.sum(), decided, abs_tol=1e-12)


@PROPERTY
@given(rounds(distinct_blocks=True), st.randoms(use_true_random=False))
def test_model_order_does_not_matter_with_distinct_blocks(case, rnd) -> None:
    losses, blocks, current, adv = case
    perm = list(range(len(blocks)))
    rnd.shuffle(perm)
    rates = win_rates(losses, blocks, current, **adv)
    shuffled = win_rates(losses[perm], blocks[perm], current, **adv)
    assert shuffled.tolist() == rates[perm].tolist()


@PROPERTY
@given(rounds(), st.data())
def test_a_later_copy_never_wins_and_changes_nothing(case, data) -> None:
    losses, blocks, current, adv = case
    source = data.draw(st.integers(0, len(blocks) - 1))
    later = data.draw(st.integers(int(blocks[source]), int(blocks[source]) + 2000))
    copied = np.vstack([losses, losses[source : source + 1]])
    copied_blocks = np.append(blocks, later)  # an equal block counts as later: it comes after in the input
    before = win_rates(losses, blocks, current, **adv)
    after = win_rates(copied, copied_blocks, current, **adv)
    assert after[-1] == 0.0
    assert after[:-1].tolist() == before.tolist()


@PROPERTY
@given(rounds())
def test_failed_losses_never_win(case) -> None:
    losses, blocks, current, adv = case
    won = sample_winners(losses, blocks, current, **adv)
    for sample, model in enumerate(won):
        if model >= 0:
            assert math.isfinite(losses[model, sample])
        else:
            assert not np.any(np.isfinite(losses[:, sample]))
    rates = win_rates(losses, blocks, current, **adv)
    assert np.all(rates[np.all(~np.isfinite(losses), axis=1)] == 0)


@PROPERTY
@given(rounds())
def test_without_advantage_the_lowest_loss_wins(case) -> None:
    losses, blocks, current, _ = case
    adv = {"advantage_initial": 0.0, "advantage_decay": 1.0}
    n = losses.shape[1]
    absolute = absolute_win_rates(losses, blocks) * np.sum(~np.isnan(losses), axis=1)
    rates = win_rates(losses, blocks, current, **adv) * n
    assert np.allclose(rates, absolute)


@PROPERTY
@given(rounds())
def test_the_winner_beats_every_older_model_and_holds_off_every_newer_one(case) -> None:
    losses, blocks, current, adv = case
    won = sample_winners(losses, blocks, current, **adv)
    for sample, model in enumerate(won):
        if model < 0:
            continue
        mine = losses[model, sample]
        bar = mine * advantage_factor(int(blocks[model]), current, **adv)
        for other in range(len(blocks)):
            theirs = losses[other, sample]
            if other == model or not math.isfinite(theirs):
                continue
            if (blocks[other], other) < (blocks[model], model):
                assert mine < theirs
            else:
                assert theirs >= bar


@PROPERTY
@given(
    arrays(np.float64, st.tuples(st.integers(0, 4), st.integers(0, 30)), elements=LOSS),
    st.integers(1, 6),
    st.integers(0, 2**64 - 1),
)
def test_grouping_uses_only_n_g_and_seed(losses, group_size, seed) -> None:
    n_models, n_samples = losses.shape
    perm = group_permutation(n_samples, group_size, seed)
    n_groups = n_samples // group_size
    cleaned = np.where(np.isfinite(losses), losses, np.inf)
    if n_models:
        cleaned[:, np.all(np.isinf(cleaned), axis=0)] = 0.0
    expected = np.zeros((n_models, n_groups))
    for g in range(n_groups):
        for k in range(group_size):
            expected[:, g] += cleaned[:, perm[g * group_size + k]]
    grouped = group_losses(losses, group_size, seed)
    assert grouped.shape == (n_models, n_groups)
    assert np.array_equal(grouped, expected)
    assert sorted(perm.tolist()) == list(range(n_samples))
    finite = np.where(np.isfinite(losses), losses, 1.0)  # (with failures, all-failed columns couple the models)
    if n_models > 1:  # the other models do not change a model's groups
        assert np.array_equal(group_losses(finite[1:], group_size, seed), group_losses(finite, group_size, seed)[1:])


@PROPERTY
@given(st.integers(0, 200), st.integers(1, 7), st.integers(0, 2**64 - 1))
def test_grouping_keeps_every_finite_total(n_samples, group_size, seed) -> None:
    rng = np.random.default_rng(seed % 2**32)
    losses = rng.integers(0, 1000, size=(3, n_samples)).astype(np.float64)  # integers: sums are exact
    grouped = group_losses(losses, group_size, seed)
    kept = group_permutation(n_samples, group_size, seed)[: grouped.shape[1] * group_size]
    assert grouped.sum(axis=1).tolist() == losses[:, kept].sum(axis=1).tolist()


@PROPERTY
@given(
    arrays(np.float64, st.integers(0, 8), elements=st.floats(0, 1)),
    st.floats(min_value=0.1, max_value=5.0),
)
def test_skewed_weights_sum_to_one_or_zero_and_keep_order(rates, skew) -> None:
    weights = skewed_weights(rates, skew)
    assert weights.shape == rates.shape
    assert np.all(weights >= 0)
    total = weights.sum()
    positive = np.any(rates**skew > 0)
    assert math.isclose(total, 1.0, rel_tol=1e-12) if positive else total == 0
    order = np.argsort(rates, kind="stable")
    assert np.all(np.diff(weights[order]) >= -1e-15)


@PROPERTY
@given(rounds())
def test_scalar_advantage_factor_in_range(case) -> None:
    _, blocks, current, adv = case
    for block in blocks:
        factor = advantage_factor(int(block), current, **adv)
        assert 0 < factor <= 1
        assert factor == 1 or block <= current
