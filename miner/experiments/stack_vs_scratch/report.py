"""The CSV rows, the plots and the markdown summary of a stack-vs-scratch run."""

from __future__ import annotations

import statistics
from typing import Any

from miner.experiments.lab import Curve
from miner.experiments.results import markdown_table, subplots

from .analysis import FactorResult, OperatorResult, mean_curve, spread
from .arms import SeedRuns, slice_notation
from .config import StackVsScratchConfig


def curve_rows(arm: str, operator: str, factor: int, layers: int, seed: int, curve: Curve,
               small_points: int) -> list[dict[str, Any]]:
    """One row per evaluation point; `small_points` leading points belong to the small phase."""
    return [{"arm": arm, "operator": operator, "factor": factor, "layers": layers, "seed": seed,
             "phase": "small" if i < small_points else ("scratch" if operator == "scratch" else "grown"),
             "point": i, "tokens": t, "flops": f, "loss": loss}
            for i, (t, f, loss) in enumerate(zip(curve.tokens, curve.flops, curve.loss, strict=True))]


def all_rows(config: StackVsScratchConfig, runs: list[SeedRuns]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    n = config.small_layers
    for r in runs:
        small = len(r.small.loss)
        for g in config.factors:
            rows += curve_rows(f"stack_x{g}", "stack", g, n * g, r.seed, r.stacked[g], small)
            rows += curve_rows(f"scratch_x{g}", "scratch", g, n * g, r.seed, r.scratch[g], 0)
        g = config.operator_factor
        for name, curve in r.operators.items():
            if name == "stack" and g in config.factors:
                continue  # the same run as the stacked arm
            rows += curve_rows(f"{name}_x{g}", name, g, n * g, r.seed, curve, small)
    return rows


def _band(ax, curves: list[Curve], x: str, label: str, color: str) -> None:
    mean = mean_curve(curves)
    xs = getattr(mean, x)
    low = [min(v) for v in zip(*(c.loss for c in curves), strict=True)]
    high = [max(v) for v in zip(*(c.loss for c in curves), strict=True)]
    ax.plot(xs, mean.loss, color=color, label=f"{label} (mean of {len(curves)})")
    ax.fill_between(xs, low, high, color=color, alpha=0.2, linewidth=0)


def _focus(ax, curves: list[Curve]) -> None:
    """Show the training part of the curves, not the first evaluations at random init."""
    low = min(min(c.loss) for c in curves)
    ax.set_ylim(low - 0.1, low + 2.0)


def curves_figure(config: StackVsScratchConfig, runs: list[SeedRuns], factors: list[FactorResult]):
    fig, axes = subplots(2, len(factors), figsize=(5.5 * len(factors), 8), squeeze=False)
    for col, fr in enumerate(factors):
        g = fr.factor
        for row, x in enumerate(("flops", "tokens")):
            ax = axes[row][col]
            _band(ax, [r.stacked[g] for r in runs], x, f"stack x{g} (small phase counted)", "tab:blue")
            _band(ax, [r.scratch[g] for r in runs], x, f"scratch {config.small_layers * g} layers", "tab:orange")
            budget = fr.plan.budget_flops if x == "flops" else fr.plan.budget_tokens
            ax.axvline(budget, color="gray", linestyle=":", label="budget (equal FLOPs)" if x == "flops"
                       else "scratch tokens at the budget")
            ax.set_xlabel("training FLOPs" if x == "flops" else "training tokens")
            ax.set_ylabel("held-out loss (nats/token)")
            ax.set_title(f"{config.small_layers} -> {config.small_layers * g} layers: {fr.verdict}")
            grown_at = fr.plan.small_flops if x == "flops" else fr.plan.small_steps * fr.plan.tokens_per_step
            ax.axvline(grown_at, color="tab:blue", linestyle="--", linewidth=0.8, label="growth")
            _focus(ax, [r.stacked[g] for r in runs] + [r.scratch[g] for r in runs])
            ax.legend(fontsize=8)
    fig.suptitle("stack-vs-scratch: mean over seeds, shaded min-max")
    fig.tight_layout()
    return fig


def operators_figure(config: StackVsScratchConfig, runs: list[SeedRuns], ops: list[OperatorResult]):
    fig, ax = subplots(figsize=(7, 4.5))
    colors = ["tab:blue", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink"]
    g = config.operator_factor
    for op, color in zip(ops, colors, strict=False):
        _band(ax, [r.operators[op.name] for r in runs], "flops", op.name, color)
    if g in config.factors:
        _band(ax, [r.scratch[g] for r in runs], "flops", f"scratch {config.small_layers * g} layers", "tab:orange")
    _focus(ax, [r.operators[op.name] for r in runs for op in ops])
    ax.set_xlabel("training FLOPs (small phase counted)")
    ax.set_ylabel("held-out loss (nats/token)")
    ax.set_title(f"depth operators, {config.small_layers} -> {config.small_layers * g} layers")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _pm(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def factor_table(config: StackVsScratchConfig, factors: list[FactorResult]) -> str:
    rows = []
    for fr in factors:
        p = fr.plan
        per_seed = ", ".join(s.describe() for s in fr.seed_savings)
        rows.append({
            "factor": f"x{fr.factor} ({config.small_layers}->{config.small_layers * fr.factor})",
            "stacked final loss": _pm(fr.stacked_final), "scratch loss at budget": _pm(fr.scratch_final),
            "diff (scratch-stacked)": f"{fr.difference:+.3f}", "seed spread": f"{fr.spread:.3f}",
            "stacked tokens (small+grown)": f"{p.stacked_tokens} ({p.small_steps * p.tokens_per_step}+"
                                            f"{p.grown_steps * p.tokens_per_step})",
            "budget FLOPs stacked / scratch": f"{fr.stacked_flops:.4g} / {fr.scratch_flops:.4g}",
            "scratch tokens to reach stacked loss": ("not reached" if fr.mean_saving.reach_tokens is None
                                                     else f"{fr.mean_saving.reach_tokens:.0f}"),
            "saving % (per seed)": f"{fr.mean_saving.describe()} ({per_seed})",
            "verdict": fr.verdict})
    return markdown_table(rows)


def operator_table(config: StackVsScratchConfig, ops: list[OperatorResult]) -> str:
    rows = []
    for op in ops:
        jump = [a - s for a, s in zip(op.after_growth, op.small_final, strict=True)]
        rows.append({"operator": op.name, "positions (toolkit)": f"`{op.positions}`",
                     "slice form": f"`{slice_notation(op.positions, config.small_layers)}`",
                     "function-preserving": "yes" if op.exact else "no",
                     "loss jump at growth": f"{statistics.fmean(jump):+.4f}", "final loss": _pm(op.final),
                     "spread": f"{spread(op.final):.3f}"})
    return markdown_table(rows)


def summary(config: StackVsScratchConfig, factors: list[FactorResult], ops: list[OperatorResult],
            cost: str) -> str:
    p0 = factors[0].plan
    lines = [
        f"Small model: hidden {config.hidden}, {config.small_layers} layers, intermediate {config.intermediate}, "
        f"vocabulary compacted to {config.vocab} ({p0.small_params} matmul parameters); "
        f"{config.small_steps} small steps, then grown and trained on. Budget per factor: {config.budget_steps} steps "
        f"of the target model ({p0.budget_tokens} tokens of {config.batch_size}x{config.seq_len}); the scratch arm "
        f"runs {config.scratch_horizon}x the budget so it can be seen reaching the stacked loss. Seeds "
        f"{list(config.seeds)}, {config.schedule} learning rate {config.lr} after {config.warmup_steps} warm-up "
        f"steps, held-out loss on {config.heldout_samples} samples of at most {config.heldout_max_tokens} tokens. "
        + cost,
        "",
        "Saving % = 1 - budget / (tokens scratch needs to reach the stacked arm's final loss), i.e. compute saved at "
        "equal FLOPs, from the seed-mean curves (per seed in brackets; `>x`: scratch did not get there within "
        "its horizon, so the saving is at least x; negative: stacking needed more). Differences are judged "
        "against the seed spread (max - min over seeds of the final loss, the larger of the two arms): a "
        f"difference within it is reported as '{'no resolvable difference'}'.",
        "",
        factor_table(config, factors),
    ]
    for fr in factors:
        s = fr.mean_saving
        if s.speedup_pct is not None:
            lines.append(f"x{fr.factor}: in the seed's form, scratch needs {s.speedup_pct:+.1f}% more tokens than the "
                         f"budget (the seed: +54.6% at 7B, 300B vs 194B tokens); counting raw tokens, small phase one "
                         f"for one, the saving is {s.token_saving_pct:.1f}%.")
    if ops:
        lines += ["", f"Depth operators at x{config.operator_factor}, each with the stacked arm's budget "
                      "(positions: which small layer runs at each grown position; `L[a:b]xk` = layers a..b-1 "
                      "repeated k times, `I` a fresh identity layer):", "", operator_table(config, ops)]
    return "\n".join(lines)


def headline(factors: list[FactorResult], ops: list[OperatorResult]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for fr in factors:
        out[f"saving_pct_x{fr.factor}"] = fr.mean_saving.saving_pct if fr.mean_saving.saving_pct is not None \
            else fr.mean_saving.describe()
    for fr in factors:
        out[f"dloss_x{fr.factor}"] = round(fr.difference, 4)
    out["spread"] = round(max(fr.spread for fr in factors), 4)
    for fr in factors:
        out[f"verdict_x{fr.factor}"] = fr.verdict
    if ops:
        best = min(ops, key=lambda op: statistics.fmean(op.final))
        out["best_operator"] = best.name
    return out
