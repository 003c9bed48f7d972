"""Who wins each sample: the advantage rule, absolute wins, and sample grouping.

Semantics (the SN29 reference validator's, with its NaN bug fixed):

* Models are ranked by commit block, oldest first; among equal blocks the model earlier in the
  input is older (callers order models by `(commit_block, hotkey)`, so every validator agrees).
* Each model has an advantage factor `f = 1 - advantage_initial * advantage_decay ** (age / 361)`,
  `age = current_block - commit_block` in blocks, 361 blocks being one epoch. A model committed
  after `current_block` (a benchmark entry) has `f = 1`: no advantage.
* Per sample the oldest model is the incumbent. Walking the models in block order, a newer model
  takes the sample only if `loss_new < loss_incumbent * f_incumbent` (strict: a tie, or a loss
  exactly at the threshold, stays with the older model) and then becomes the incumbent, with its own
  factor, for the models after it. Thresholds only ever fall along the walk (`f <= 1`), so a later
  copy with identical losses never wins anything.
* A failed sample (NaN, +inf or -inf) never wins: it is treated as +inf, which any finite loss
  beats (`inf * f = inf`). A sample on which every model failed is won by nobody. (The reference
  compared NaN directly, so an all-NaN oldest model won every sample.)
* win rate = samples won / samples; the win rates of one round sum to at most 1.

Arithmetic is float64 throughout; each factor is computed once per model with Python's scalar
`**` (C `pow`), not a vectorised numpy power, so a miner can reproduce the comparison exactly.

Grouping (`group_samples` > 1) sums losses over groups of samples before the win rule, which
rewards being better on average over a group rather than on single samples. The grouping order
is derived by hashing (see `group_permutation`), not drawn from a numpy PRNG: numpy's policy
(NEP 19) leaves `Generator` streams free to change between numpy releases, SHA-256 is fixed.
"""

from __future__ import annotations

import numpy as np

from node.data.seeding import derive_seed, rank_key

EPOCH_BLOCKS = 361


def _loss_matrix(losses: object) -> np.ndarray:
    matrix = np.array(losses, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"losses must be a 2-D [models, samples] array, got shape {matrix.shape}")
    if np.any(np.isfinite(matrix) & (matrix < 0)):
        raise ValueError("losses must be >= 0 (sums of cross-entropy); a negative loss inverts the advantage")
    return matrix


def _failed_as_inf(matrix: np.ndarray) -> np.ndarray:
    """NaN and +-inf become +inf: a failed sample loses against any finite loss."""
    return np.where(np.isfinite(matrix), matrix, np.inf)


def _block_order(commit_blocks: object, n_models: int) -> tuple[np.ndarray, np.ndarray]:
    blocks = np.asarray(commit_blocks)
    if blocks.shape != (n_models,):
        raise ValueError(f"commit_blocks must have one block per model ({n_models}), got shape {blocks.shape}")
    if blocks.size and not np.issubdtype(blocks.dtype, np.integer):
        raise ValueError("commit_blocks must be integers")
    blocks = blocks.astype(np.int64)
    return blocks, np.argsort(blocks, kind="stable")


def advantage_factor(
    commit_block: int,
    current_block: int,
    *,
    advantage_initial: float,
    advantage_decay: float,
    epoch_blocks: int = EPOCH_BLOCKS,
) -> float:
    """`1 - advantage_initial * advantage_decay ** (age / epoch_blocks)`; 1 for a model from the future."""
    if not 0.0 <= advantage_initial < 1.0:
        raise ValueError(f"advantage_initial must be in [0, 1), got {advantage_initial}")
    if not 0.0 < advantage_decay <= 1.0:
        raise ValueError(f"advantage_decay must be in (0, 1], got {advantage_decay}")
    if epoch_blocks <= 0:
        raise ValueError("epoch_blocks must be positive")
    age = int(current_block) - int(commit_block)
    if age < 0:
        return 1.0
    return 1.0 - float(advantage_initial) * float(advantage_decay) ** (age / epoch_blocks)


def sample_winners(
    losses: object,
    commit_blocks: object,
    current_block: int,
    *,
    advantage_initial: float,
    advantage_decay: float,
    epoch_blocks: int = EPOCH_BLOCKS,
) -> np.ndarray:
    """Index (into the input's models) of each sample's winner, -1 where every model failed."""
    matrix = _failed_as_inf(_loss_matrix(losses))
    n_models, n_samples = matrix.shape
    blocks, order = _block_order(commit_blocks, n_models)
    if n_models == 0:
        return np.full(n_samples, -1, dtype=np.int64)
    factors = [
        advantage_factor(
            int(b),
            current_block,
            advantage_initial=advantage_initial,
            advantage_decay=advantage_decay,
            epoch_blocks=epoch_blocks,
        )
        for b in blocks
    ]
    first = int(order[0])
    winner = np.full(n_samples, first, dtype=np.int64)
    best = matrix[first].copy()
    threshold = best * factors[first]
    for model in order[1:]:
        row = matrix[model]
        takes = row < threshold
        winner[takes] = model
        best[takes] = row[takes]
        threshold[takes] = row[takes] * factors[model]
    winner[~np.isfinite(best)] = -1
    return winner


def win_rates(
    losses: object,
    commit_blocks: object,
    current_block: int,
    *,
    advantage_initial: float,
    advantage_decay: float,
    epoch_blocks: int = EPOCH_BLOCKS,
) -> np.ndarray:
    """Fraction of samples each model wins under the advantage rule (module docstring); zeros for no samples."""
    matrix = _loss_matrix(losses)
    winners = sample_winners(
        matrix,
        commit_blocks,
        current_block,
        advantage_initial=advantage_initial,
        advantage_decay=advantage_decay,
        epoch_blocks=epoch_blocks,
    )
    n_models, n_samples = matrix.shape
    if n_samples == 0:
        return np.zeros(n_models)
    wins = np.bincount(winners[winners >= 0], minlength=n_models)
    return wins / n_samples


def evaluated_samples(losses: object) -> np.ndarray:
    """Per model, how many samples have a result (not NaN; inf is a result: a failed sample)."""
    matrix = np.array(losses, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError(f"losses must be a 2-D [models, samples] array, got shape {matrix.shape}")
    return np.sum(~np.isnan(matrix), axis=1).astype(np.int64)


def absolute_win_rates(losses: object, commit_blocks: object) -> np.ndarray:
    """Wins by lowest finite loss (no advantage; ties go to the older model), over each model's evaluated samples.

    The denominator is `evaluated_samples(losses)`: a model evaluated on only part of the samples
    is measured on those. A sample where every model failed is won by nobody.
    """
    matrix = _loss_matrix(losses)
    n_models, n_samples = matrix.shape
    _, order = _block_order(commit_blocks, n_models)
    if n_models == 0 or n_samples == 0:
        return np.zeros(n_models)
    ordered = _failed_as_inf(matrix)[order]
    position = np.argmin(ordered, axis=0)  # first minimum = oldest among equals
    has_winner = np.isfinite(ordered.min(axis=0))
    wins = np.bincount(order[position[has_winner]], minlength=n_models)
    evaluated = evaluated_samples(matrix)
    return np.divide(wins, evaluated, out=np.zeros(n_models), where=evaluated > 0)


def group_permutation(n_samples: int, group_size: int, seed: int) -> np.ndarray:
    """The sample order used for grouping: depends only on `(n_samples, group_size, seed)`.

    Sample `i` is ranked by `sha256` of a sub-seed of `(seed, "group", n_samples, group_size)` and
    `i` (`node.data.seeding.rank_key`); stable across numpy and Python versions by construction.
    """
    if n_samples < 0 or group_size < 1:
        raise ValueError("n_samples must be >= 0 and group_size >= 1")
    sub = derive_seed(seed, "group", n_samples, group_size)
    return np.array(sorted(range(n_samples), key=lambda i: rank_key(sub, str(i))), dtype=np.int64)


def group_losses(losses: object, group_size: int, seed: int) -> np.ndarray:
    """Sum losses over seeded groups of `group_size` samples: `[models, samples // group_size]`.

    NaN becomes inf (so a group with a failed sample fails); a sample every model failed
    contributes 0 to every model (it says nothing about them and must not fail the whole group);
    samples are taken in `group_permutation` order, the last `n % group_size` in that order
    (an incomplete group) are dropped, and each group is summed left to right in that order.
    """
    matrix = _loss_matrix(losses)
    if group_size < 1:
        raise ValueError("group_size must be >= 1")
    n_models, n_samples = matrix.shape
    matrix = _failed_as_inf(matrix)
    if n_models:
        matrix[:, np.all(np.isinf(matrix), axis=0)] = 0.0
    n_groups = n_samples // group_size
    keep = group_permutation(n_samples, group_size, seed)[: n_groups * group_size]
    grouped = matrix[:, keep].reshape(n_models, n_groups, group_size)
    total = np.zeros((n_models, n_groups))
    for k in range(group_size):  # left to right, so every machine adds in the same order
        total += grouped[:, :, k]
    return total
