"""The arms: train the small model, grow it with the growth toolkit, train on; train the target from scratch.

Growth goes through `miner.growth.grow` on disk (the toolkit's streaming writer, the same code a miner
runs) into a temporary folder, and the child is loaded back with `node.modeling.load_model_for_eval`
(the gate and the patched class), so the experiment measures exactly what the toolkit produces.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from miner.experiments.lab import Curve, TextData, tiny_llama, train
from miner.growth import (
    GrowthPlan,
    Interpolate,
    Layers,
    NumLayers,
    Operator,
    Stack,
    format_layer_spec,
    grow,
    parse_layer_spec,
    resolve,
)
from node.modeling import load_model_for_eval, read_model_config

from .config import BudgetPlan, StackVsScratchConfig, budget_plan


def depth_operator(name: str, factor: int, small_layers: int, partial_spec: str) -> Operator:
    """The toolkit operator for one of the seed's depth operators, growing `small_layers` to x`factor`.

    stack: G_stack as published, the whole block repeated with every copy's trained writers (not
    function-preserving); stack_exact: the same positions with the copies' writers zeroed (an identity
    until trained); interpolate: each layer repeated in place, writers copied; partial: `partial_spec`
    (toolkit grammar), writers copied; identity: fresh identity layers (random readers, zero writers)
    spread evenly through the stack, function-preserving."""
    if name == "stack":
        return Stack(factor, copy_writers=True)
    if name == "stack_exact":
        return Stack(factor)
    if name == "interpolate":
        return Interpolate(factor, copy_writers=True)
    if name == "partial":
        return Layers(partial_spec, copy_writers=True)
    if name == "identity":
        return NumLayers(small_layers * factor, source="fresh")
    raise ValueError(f"unknown depth operator {name!r}")


def slice_notation(spec: str, small_layers: int) -> str:
    """A depth spec in slice form: `L[a:b]xk` = the small model's layers a..b-1 (0-based, end excluded)
    repeated k times, blocks in execution order, `I` a fresh identity layer; e.g. `0,1*3` -> `L[0:2] L[1:2]x2`,
    interpolation `0*2,1*2` -> `L[0:1]x2 L[1:2]x2`. Greedy: at each position the block covering the most."""
    picks = parse_layer_spec(spec, small_layers)
    parts: list[str] = []
    i = 0
    while i < len(picks):
        best = (1, 1)  # (block length, repeats)
        for length in range(1, len(picks) - i + 1):
            block = picks[i : i + length]
            if None in block or any(b != block[0] + j for j, b in enumerate(block)):
                break
            repeats = 1
            while picks[i + repeats * length : i + (repeats + 1) * length] == block:
                repeats += 1
            if length * repeats > best[0] * best[1]:
                best = (length, repeats)
        length, repeats = best
        first = picks[i]
        name = "I" if first is None else f"L[{first}:{first + length}]"
        parts.append(name + (f"x{repeats}" if repeats > 1 else ""))
        i += length * repeats
    return " ".join(parts)


@dataclass
class Grown:
    model: torch.nn.Module
    exact: bool
    positions: str  # toolkit grammar, e.g. "0-1,0-1"


def grow_model(small: torch.nn.Module, op: Operator, seed: int) -> Grown:
    """The child of `small` under `op`, grown by the toolkit on disk and loaded back (fp32, CPU)."""
    with tempfile.TemporaryDirectory(prefix="stack-vs-scratch-") as tmp:
        parent_dir, child_dir = Path(tmp) / "parent", Path(tmp) / "child"
        small.to("cpu").save_pretrained(parent_dir, safe_serialization=True)
        plan = GrowthPlan([op], seed=seed)
        resolved = resolve(plan, read_model_config(parent_dir))
        report = grow(parent_dir, child_dir, plan)
        model = load_model_for_eval(child_dir, dtype=torch.float32)
    positions = format_layer_spec([layer.parent_stored for layer in resolved.layers])
    return Grown(model, report.exact, positions)


@dataclass
class SeedRuns:
    """Every curve of one seed: the small phase, each factor's stacked and scratch arm, each operator arm."""

    seed: int
    small: Curve
    stacked: dict[int, Curve]  # factor -> the whole curve, small phase included
    scratch: dict[int, Curve]
    operators: dict[str, Curve]  # at config.operator_factor, small phase included
    exact: dict[str, bool]
    positions: dict[str, str]


def run_seed(config: StackVsScratchConfig, data: TextData, seed: int, plans: dict[int, BudgetPlan],
             device: torch.device, log) -> SeedRuns:
    small_model = tiny_llama(config.shape(config.small_layers), data.vocab_size, seed)
    small = train(small_model, data, config.train_spec(config.small_steps), seed, device=device)
    log(f"seed {seed}: small {config.small_layers} layers, {config.small_steps} steps, loss {small.loss[-1]:.4f}")
    runs = SeedRuns(seed, small, {}, {}, {}, {}, {})
    wanted = [(factor, "stack") for factor in config.factors]
    wanted += [(config.operator_factor, name) for name in config.operators
               if (config.operator_factor, name) not in wanted]
    for factor, name in wanted:
        plan = plans[factor] if factor in plans else budget_plan(config, factor)
        grown = grow_model(small_model, depth_operator(name, factor, config.small_layers, config.partial_spec), seed)
        curve = Curve(list(small.tokens), list(small.flops), list(small.loss))
        train(grown.model, data, config.train_spec(plan.grown_steps), seed, curve=curve,
              start_tokens=small.tokens[-1], start_flops=small.flops[-1], device=device,
              data_step_offset=config.small_steps)
        log(f"seed {seed}: {name} x{factor} ({grown.positions}{', exact' if grown.exact else ''}), "
            f"{plan.grown_steps} steps, loss {curve.loss[-1]:.4f}")
        if name == "stack" and factor in config.factors:
            runs.stacked[factor] = curve
        if factor == config.operator_factor and name in config.operators:
            runs.operators[name] = curve
            runs.exact[name] = grown.exact
            runs.positions[name] = grown.positions
    for factor in config.factors:
        plan = plans[factor]
        model = tiny_llama(config.shape(config.small_layers * factor), data.vocab_size, seed)
        runs.scratch[factor] = train(model, data, config.train_spec(plan.scratch_steps), seed, device=device)
        log(f"seed {seed}: scratch {config.small_layers * factor} layers, {plan.scratch_steps} steps, "
            f"loss {runs.scratch[factor].loss[-1]:.4f}")
    return runs

