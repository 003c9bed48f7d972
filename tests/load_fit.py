"""Is a round's time linear in the (model, sample) evaluations it does? A least-squares fit with numpy.

What is fitted: a round's time against the number of
(model, sample) losses the evaluation worker computed in that round, i.e. models x samples *after* the loss
cache: a cached pair costs nothing, so the cold part of a round is what must scale, and counting pairs
the cache served would fit the cache's hit rate rather than the work. Two kinds of model cost very different
amounts per sample (a tiny random Llama and the 135M-parameter small trained model), so each kind has its
own slope: t = intercept + slope_tiny * n_tiny + slope_small * n_small. The worst deviation is
max |t - fit| / fit over the rounds fitted. The load test fits both the CPU seconds of the daemon and its
worker per round (the work, which other processes on a shared machine barely change) and the wall time
(what an operator waits, which they do).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RoundTimeFit:
    intercept_s: float
    slope_tiny_s: float  # seconds per tiny (model, sample) evaluation
    slope_small_s: float  # seconds per small-model (model, sample) evaluation
    worst_dev: float  # worst relative deviation of a round from the fit
    r2: float
    points: int


def fit_round_times(seconds: Sequence[float], tiny_evals: Sequence[int], small_evals: Sequence[int]) -> RoundTimeFit:
    """Least squares over the rounds given (at least four, so the fit is over-determined)."""
    t = np.asarray(seconds, dtype=float)
    if t.size < 4:
        raise ValueError(f"{t.size} rounds cannot test a three-parameter fit")
    design = np.column_stack([np.ones_like(t), np.asarray(tiny_evals, float), np.asarray(small_evals, float)])
    coef, *_ = np.linalg.lstsq(design, t, rcond=None)
    fitted = design @ coef
    residual = t - fitted
    total = float(((t - t.mean()) ** 2).sum())
    r2 = 1.0 - float((residual**2).sum()) / total if total > 0 else 1.0
    worst = float(np.max(np.abs(residual) / np.maximum(np.abs(fitted), 1e-9)))
    return RoundTimeFit(float(coef[0]), float(coef[1]), float(coef[2]), worst, r2, int(t.size))
