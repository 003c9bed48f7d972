"""From curves to numbers: each arm's final loss per seed, the seed spread, the tokens the scratch arm needs to
reach the stacked arm's final loss, the saving, and the verdict."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from miner.experiments.lab import Curve, tokens_to_reach

from .arms import SeedRuns
from .config import BudgetPlan, StackVsScratchConfig

NO_DIFFERENCE = "no resolvable difference"


def loss_at_tokens(curve: Curve, tokens: float) -> float:
    """The curve's held-out loss at `tokens` (an evaluation point, or linear between the two around it)."""
    for i, t in enumerate(curve.tokens):
        if t == tokens:
            return curve.loss[i]
        if t > tokens and i > 0:
            t0, l0 = curve.tokens[i - 1], curve.loss[i - 1]
            return l0 + (curve.loss[i] - l0) * (tokens - t0) / (t - t0)
    raise ValueError(f"the curve ends at {curve.tokens[-1]} tokens, before {tokens}")


def mean_curve(curves: list[Curve]) -> Curve:
    """Pointwise mean over seeds (every seed's curve has the same evaluation points)."""
    if len({tuple(c.tokens) for c in curves}) != 1:
        raise ValueError("curves of one arm must share their evaluation points")
    out = Curve(list(curves[0].tokens), list(curves[0].flops))
    out.loss = [statistics.fmean(values) for values in zip(*(c.loss for c in curves), strict=True)]
    return out


def spread(values: list[float]) -> float:
    """The seed spread: max - min over seeds (0 for one seed)."""
    return max(values) - min(values)


def verdict(difference: float, seed_spread: float, seeds: int) -> str:
    """`difference` = scratch - stacked final loss (positive: stacking is better)."""
    if seeds < 2:
        return "one seed, no spread to judge by"
    if abs(difference) <= seed_spread:
        return NO_DIFFERENCE
    return "stacking better" if difference > 0 else "scratch better"


@dataclass
class Saving:
    """Tokens the scratch arm needs to reach `target` loss, against what the budget buys it."""

    reach_tokens: float | None  # None: not reached within the scratch arm's horizon
    budget_tokens: int
    stacked_tokens: int
    horizon_tokens: int

    @property
    def saving_pct(self) -> float | None:
        """Compute saved at equal FLOPs: 1 - budget / (what scratch needs), in percent (negative: stacking
        costs more)."""
        return None if self.reach_tokens is None else 100.0 * (1.0 - self.budget_tokens / self.reach_tokens)

    @property
    def speedup_pct(self) -> float | None:
        """The seed's way of stating it: (what scratch needs) / budget - 1, in percent."""
        return None if self.reach_tokens is None else 100.0 * (self.reach_tokens / self.budget_tokens - 1.0)

    @property
    def token_saving_pct(self) -> float | None:
        """Raw tokens, the small phase's counted one for one: 1 - stacked arm's tokens / what scratch needs."""
        return None if self.reach_tokens is None else 100.0 * (1.0 - self.stacked_tokens / self.reach_tokens)

    @property
    def lower_bound_pct(self) -> float:
        """The saving is at least this when scratch never reached the target within its horizon."""
        return 100.0 * (1.0 - self.budget_tokens / self.horizon_tokens)

    def describe(self) -> str:
        if self.saving_pct is None:
            return f">{self.lower_bound_pct:.1f}"
        return f"{self.saving_pct:.1f}"


def saving(scratch: Curve, target: float, plan: BudgetPlan) -> Saving:
    return Saving(tokens_to_reach(scratch, target), plan.budget_tokens, plan.stacked_tokens, scratch.tokens[-1])


@dataclass
class FactorResult:
    factor: int
    plan: BudgetPlan
    stacked_final: list[float]  # per seed, at the end of the stacked arm (= the budget)
    scratch_final: list[float]  # per seed, at the budget
    stacked_flops: float
    scratch_flops: float  # at the budget point
    mean_saving: Saving  # from the seed-mean curves
    seed_savings: list[Saving]  # each seed's scratch curve against the same seed's stacked final loss

    @property
    def difference(self) -> float:
        return statistics.fmean(self.scratch_final) - statistics.fmean(self.stacked_final)

    @property
    def spread(self) -> float:
        return max(spread(self.stacked_final), spread(self.scratch_final))

    @property
    def verdict(self) -> str:
        return verdict(self.difference, self.spread, len(self.stacked_final))


def analyse_factor(factor: int, plan: BudgetPlan, runs: list[SeedRuns]) -> FactorResult:
    stacked = [r.stacked[factor] for r in runs]
    scratch = [r.scratch[factor] for r in runs]
    budget_index = scratch[0].tokens.index(plan.budget_tokens)
    mean_stacked, mean_scratch = mean_curve(stacked), mean_curve(scratch)
    return FactorResult(
        factor, plan, [c.loss[-1] for c in stacked], [c.loss[budget_index] for c in scratch],
        stacked[0].flops[-1], scratch[0].flops[budget_index],
        saving(mean_scratch, mean_stacked.loss[-1], plan),
        [saving(sc, st.loss[-1], plan) for sc, st in zip(scratch, stacked, strict=True)])


@dataclass
class OperatorResult:
    name: str
    positions: str
    exact: bool
    small_final: list[float]
    after_growth: list[float]  # loss of the grown model before it trains
    final: list[float]


def analyse_operators(config: StackVsScratchConfig, runs: list[SeedRuns]) -> list[OperatorResult]:
    out = []
    for name in config.operators:
        first = len(runs[0].small.loss)  # index of the grown model's first evaluation
        out.append(OperatorResult(name, runs[0].positions[name], runs[0].exact[name],
                                  [r.small.loss[-1] for r in runs], [r.operators[name].loss[first] for r in runs],
                                  [r.operators[name].loss[-1] for r in runs]))
    return out
