"""stack-vs-scratch: does growing a trained small model by stacking reach a loss with fewer tokens than
training the large model from scratch, at equal training FLOPs?

The seed study (G_stack; Du et al. 2024, "Stacking Your Transformers"): train a small model, grow its depth by
stacking its whole layer block k times (growth factor g = k: layers [L1..Ln, L1..Ln, ...], every copy keeping
its trained weights), grow early, then continue training the grown model. At 7B the seed reports the grown model
reaching the loss of a conventionally trained 7B (300B tokens) with 194B tokens and calls it a 54.6% speedup:
300/194 - 1 = 0.546, which is 35.3% fewer tokens. This module reports both forms (`saving %` = 1 - budget /
scratch tokens, `speedup` = scratch tokens / budget - 1).

What runs here, per seed (both arms of a seed see the same data stream, window for window):
(a) stacked: the small model trains `small_steps`; `miner.growth` grows it x g (`stack` with copied writers,
    i.e. G_stack as published); the grown model trains on with the rest of the budget (the data continues
    where the small phase stopped; a fresh optimiser and warm-up);
(b) scratch: the target-size model (small_layers x g layers, same width) trains from a random start.
The budget is equal FLOPs, 6 x matmul parameters x tokens, the small phase counted at its own (smaller)
cost (`config.budget_plan`). The scratch arm runs on past the budget (`scratch_horizon`) so the tokens it
needs to reach (a)'s final held-out loss can be read off its curve; with the default constant learning rate
after warm-up its loss at the budget does not depend on how long it runs on (a cosine schedule would
handicap it there). A difference smaller than the seed spread (max - min over seeds) is reported as no
resolvable difference: measured before this experiment at hidden 128, 2 -> 8 layers, 350k tokens, the
spread was 0.08-0.11 nats, larger than the effect.

The seed's depth operators side by side, at `operator_factor`, each with the stacked arm's budget:
stack (G_stack), stack_exact (the same positions, duplicates' output projections zeroed: an identity until
trained), interpolate (each layer repeated in place, 1,1,2,2,...), partial stacking (`partial_spec`, only a
range of layers repeated; written in the toolkit's grammar `0,1*3`, the seed's paper notation `paper:1-2*3`,
and shown here as `L[a:b]xk` = the small model's layers a..b-1 repeated k times, e.g. `L[0:2] L[1:2]x2`), and
identity insertion (fresh layers whose output projections are zero, spread evenly: function-preserving).
"""

from __future__ import annotations

import os
import time

import torch

from miner.experiments.context import RunContext
from miner.experiments.lab import TextData
from miner.experiments.registry import Experiment
from miner.experiments.results import ExperimentResult

from .analysis import analyse_factor, analyse_operators
from .arms import run_seed
from .config import BudgetPlan, StackVsScratchConfig, budget_plan, shape_matmul_parameters
from .report import all_rows, curves_figure, headline, operators_figure, summary

__all__ = ["EXPERIMENT", "BudgetPlan", "StackVsScratchConfig", "budget_plan", "run", "shape_matmul_parameters"]


def run(config: StackVsScratchConfig, context: RunContext) -> ExperimentResult:
    started, cpu_started, load_started = time.monotonic(), time.process_time(), os.getloadavg()[0]
    data = TextData.build(config.data)
    plans = {factor: budget_plan(config, factor) for factor in config.factors}
    runs = [run_seed(config, data, seed, plans, context.device, context.log) for seed in config.seeds]
    factors = [analyse_factor(factor, plans[factor], runs) for factor in config.factors]
    ops = analyse_operators(config, runs) if config.operators else []
    figures = {"curves": curves_figure(config, runs, factors)}
    if ops:
        figures["operators"] = operators_figure(config, runs, ops)
    cost = (f"Wall time {time.monotonic() - started:.0f} s, CPU time {time.process_time() - cpu_started:.0f} s "
            f"({torch.get_num_threads()} torch threads, device {context.device}; 1-minute load average "
            f"{load_started:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).")
    return ExperimentResult(all_rows(config, runs), summary(config, factors, ops, cost), headline(factors, ops),
                            figures)


EXPERIMENT = Experiment(
    "stack-vs-scratch",
    "does growing a trained small model by stacking reach a loss with fewer tokens than training the large one "
    "from scratch, at equal FLOPs?",
    StackVsScratchConfig,
    run,
)
