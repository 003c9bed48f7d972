"""node.scoring.wins: hand-computed cases of the advantage rule, failures, grouping."""

from __future__ import annotations

import math

import numpy as np
import pytest

from node.scoring import (
    absolute_win_rates,
    advantage_factor,
    evaluated_samples,
    group_losses,
    group_permutation,
    sample_winners,
    win_rates,
)

NAN, INF = math.nan, math.inf
# advantage 1/4, halving per epoch: one epoch old -> factor 1 - 1/4 * 1/2 = 0.875, exact in binary
EXACT = {"advantage_initial": 0.25, "advantage_decay": 0.5}
FLAT = {"advantage_initial": 0.01, "advantage_decay": 1.0}  # factor 0.99 at any age


def winners(losses, blocks, current=361, **adv):
    return sample_winners(np.array(losses, dtype=float), blocks, current, **(adv or EXACT)).tolist()


def test_factor_values() -> None:
    assert advantage_factor(0, 361, **EXACT) == 0.875
    assert advantage_factor(0, 722, **EXACT) == 1 - 0.25 * 0.25
    assert advantage_factor(361, 361, **EXACT) == 0.75  # committed this block: the full advantage
    assert advantage_factor(362, 361, **EXACT) == 1.0  # from the future: none
    ref = advantage_factor(1000, 1000 + 361 * 139, advantage_initial=0.004, advantage_decay=0.995)
    assert ref == 1 - 0.004 * 0.995**139  # about half the initial advantage after a week
    assert advantage_factor(5, 10, advantage_initial=0.0, advantage_decay=0.9) == 1.0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"advantage_initial": -0.1, "advantage_decay": 0.5}, "advantage_initial"),
        ({"advantage_initial": 1.0, "advantage_decay": 0.5}, "advantage_initial"),
        ({"advantage_initial": 0.1, "advantage_decay": 0.0}, "advantage_decay"),
        ({"advantage_initial": 0.1, "advantage_decay": 1.5}, "advantage_decay"),
        ({"advantage_initial": 0.1, "advantage_decay": 0.5, "epoch_blocks": 0}, "epoch_blocks"),
    ],
)
def test_factor_rejects(kwargs, fragment) -> None:
    with pytest.raises(ValueError, match=fragment):
        advantage_factor(0, 10, **kwargs)


def test_exact_threshold_stays_with_older() -> None:
    # threshold = 8 * 0.875 = 7 exactly
    assert winners([[8.0], [7.0]], [0, 361]) == [0]
    assert winners([[8.0], [np.nextafter(7.0, 0.0)]], [0, 361]) == [1]
    assert winners([[8.0], [np.nextafter(7.0, 8.0)]], [0, 361]) == [0]
    assert winners([[8.0], [8.0]], [0, 361]) == [0]  # a tie


def test_reference_defaults_boundary() -> None:
    adv = {"advantage_initial": 0.004, "advantage_decay": 0.995}
    current, old_block = 10_000, 10_000 - 3 * 361
    threshold = 1000.0 * (1 - 0.004 * 0.995**3.0)  # the formula, as a miner would compute it
    assert winners([[1000.0], [threshold]], [old_block, current], current, **adv) == [0]
    assert winners([[1000.0], [np.nextafter(threshold, 0)]], [old_block, current], current, **adv) == [1]
    assert winners([[1000.0], [996.5]], [current, current], current, **adv) == [0]  # needs < 996
    assert winners([[1000.0], [995.9]], [current, current], current, **adv) == [1]


def test_chain_newcomer_must_beat_the_incumbent_not_the_oldest() -> None:
    # 0 -> threshold 99; 1 (99.5) does not take; 2 (98.9) does: it beats the incumbent, model 0
    assert winners([[100.0], [99.5], [98.9]], [0, 1, 2], **FLAT) == [2]
    # 1 takes (98 < 99) and raises the bar to 98 * 0.99 = 97.02; 2 (97.5) beats 0's bar but not 1's
    assert winners([[100.0], [98.0], [97.5]], [0, 1, 2], **FLAT) == [1]
    # and 2 takes from 1 once it clears 97.02
    assert winners([[100.0], [98.0], [97.0]], [0, 1, 2], **FLAT) == [2]


def test_each_incumbent_uses_its_own_factor() -> None:
    # 0 is 2 epochs old (factor 1 - 1/16), 1 is new (factor 0.75): 16 -> bar 15; 1 = 14 takes, bar 10.5
    current = 722
    assert winners([[16.0], [14.0], [10.6]], [0, 722, 722], current) == [1]
    assert winners([[16.0], [14.0], [10.4]], [0, 722, 722], current) == [2]


def test_future_model_gives_no_advantage() -> None:
    adv = {"advantage_initial": 0.5, "advantage_decay": 1.0}
    assert winners([[10.0], [9.999]], [500, 600], 400, **adv) == [1]
    assert winners([[10.0], [10.0]], [500, 600], 400, **adv) == [0]
    assert winners([[10.0], [9.999]], [400, 600], 400, **adv) == [0]  # block == current: full advantage


def test_order_comes_from_blocks_then_input_position() -> None:
    # input lists the newer model first; the older one (block 0) is the incumbent
    assert winners([[7.0], [8.0]], [361, 0]) == [1]
    assert winners([[6.9], [8.0]], [361, 0]) == [0]
    # equal blocks: the model earlier in the input is older
    assert winners([[8.0], [7.0]], [5, 5], 5 + 361) == [0]
    assert winners([[7.0], [8.0]], [5, 5], 5 + 361) == [0]


def test_failed_samples_never_win() -> None:
    losses = [
        [NAN, NAN, INF, -INF, NAN],
        [5.0, NAN, NAN, 3.0, INF],
        [5.0, NAN, 9.0, INF, NAN],
    ]
    assert winners(losses, [0, 1, 2]) == [1, -1, 2, 1, -1]
    rates = win_rates(np.array(losses), [0, 1, 2], 361, **EXACT)
    assert rates.tolist() == [0.0, 2 / 5, 1 / 5]


def test_all_nan_oldest_model_wins_nothing() -> None:
    losses = np.array([[NAN] * 4, [1.0, 2.0, 3.0, 4.0]])
    assert win_rates(losses, [0, 10], 400, **EXACT).tolist() == [0.0, 1.0]


def test_win_rates_shapes() -> None:
    assert win_rates(np.zeros((3, 0)), [1, 2, 3], 10, **EXACT).tolist() == [0.0, 0.0, 0.0]
    assert win_rates(np.zeros((0, 4)), [], 10, **EXACT).shape == (0,)
    assert winners(np.zeros((0, 2)), []) == [-1, -1]
    one = win_rates(np.array([[1.0, INF, 2.0]]), [3], 10, **EXACT)
    assert one.tolist() == [2 / 3]


@pytest.mark.parametrize(
    ("losses", "blocks", "fragment"),
    [
        ([1.0, 2.0], [0], "2-D"),
        ([[1.0, -0.5]], [0], ">= 0"),
        ([[1.0], [2.0]], [0], "one block per model"),
        ([[1.0], [2.0]], [0.0, 1.5], "integers"),
    ],
)
def test_win_rates_reject(losses, blocks, fragment) -> None:
    with pytest.raises(ValueError, match=fragment):
        win_rates(losses, blocks, 10, **EXACT)


def test_absolute_win_rates() -> None:
    losses = np.array(
        [
            [1.0, 5.0, NAN, 2.0, INF],
            [1.0, 4.0, 3.0, NAN, INF],
            [2.0, 6.0, NAN, NAN, NAN],
        ]
    )
    # sample 0: tie between 0 and 1 -> the older (block 0); 1 -> model 1; 2 -> 1; 3 -> 0; 4 -> nobody
    assert evaluated_samples(losses).tolist() == [4, 4, 2]
    assert absolute_win_rates(losses, [0, 1, 2]).tolist() == [2 / 4, 2 / 4, 0.0]
    # now model 1 is the older one: it takes the tie
    assert absolute_win_rates(losses, [5, 1, 2]).tolist() == [1 / 4, 3 / 4, 0.0]
    assert absolute_win_rates(np.full((2, 3), NAN), [0, 1]).tolist() == [0.0, 0.0]
    assert absolute_win_rates(np.zeros((2, 0)), [0, 1]).tolist() == [0.0, 0.0]


def test_group_permutation_is_pinned() -> None:
    # a change here changes every validator's grouping: it is protocol
    assert group_permutation(10, 3, 7).tolist() == [8, 7, 4, 2, 0, 6, 5, 3, 1, 9]
    assert sorted(group_permutation(1000, 4, 123).tolist()) == list(range(1000))
    assert group_permutation(0, 2, 1).tolist() == []
    assert group_permutation(50, 2, 1).tolist() != group_permutation(50, 2, 2).tolist()
    assert group_permutation(50, 2, 1).tolist() != group_permutation(50, 5, 1).tolist()
    assert group_permutation(50, 2, 1).tolist() != group_permutation(51, 2, 1).tolist()[:50]


def test_group_losses_hand_computed() -> None:
    losses = np.arange(20.0).reshape(2, 10)
    perm = [8, 7, 4, 2, 0, 6, 5, 3, 1]  # group_permutation(10, 3, 7) without its last (dropped) entry
    grouped = group_losses(losses, 3, 7)
    expected = [[sum(row[perm[3 * g : 3 * g + 3]]) for g in range(3)] for row in losses]
    assert grouped.tolist() == expected == [[19.0, 8.0, 9.0], [49.0, 38.0, 39.0]]


def test_group_losses_failures() -> None:
    losses = np.array(
        [
            [1.0, NAN, INF, 2.0],
            [3.0, INF, NAN, 4.0],
        ]
    )
    perm = group_permutation(4, 2, 0).tolist()
    grouped = group_losses(losses, 2, 0)
    # columns 1 and 2 failed for everyone: they add 0, so the grouping order decides nothing about them
    cleaned = np.array([[1.0, 0.0, 0.0, 2.0], [3.0, 0.0, 0.0, 4.0]])
    assert grouped.tolist() == [[row[perm[0]] + row[perm[1]], row[perm[2]] + row[perm[3]]] for row in cleaned]
    # a column one model failed makes that model's group fail, and NaN becomes inf
    mixed = group_losses(np.array([[1.0, NAN], [2.0, 3.0]]), 2, 0)
    assert mixed.tolist() == [[INF], [5.0]]


def test_group_losses_shapes_and_errors() -> None:
    assert group_losses(np.ones((3, 5)), 2, 1).shape == (3, 2)
    assert group_losses(np.ones((3, 1)), 2, 1).shape == (3, 0)
    assert group_losses(np.ones((0, 4)), 2, 1).shape == (0, 2)
    assert group_losses(np.ones((2, 4)), 1, 9).tolist() == np.ones((2, 4)).tolist()
    with pytest.raises(ValueError, match="group_size"):
        group_losses(np.ones((2, 4)), 0, 1)
    with pytest.raises(ValueError, match=">= 0"):
        group_losses(np.array([[-1.0, 1.0]]), 2, 1)
