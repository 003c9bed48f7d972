"""`low-rank` (seed 003): attention and MLP matrices replaced by low-rank factors, trained from scratch against the
full-rank model at equal steps on the same batches; loss against parameter count and training FLOPs.

Arms are written `full` or `SCHEDULE:RANK[:PART]`: SCHEDULE is constant / increasing / decreasing across layers
(the ramps keep the mean rank, so the three schedules of one rank have about the same parameter count), PART is
all (default), attention or mlp. Every arm starts from the same seeded full model (same embedding, norms, head);
the factorised matrices are drawn fresh from the seed.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from .context import RunContext
from .lab import DataSpec, ModelShape, TextData, TrainSpec, matmul_parameters, tiny_llama, train, train_flops
from .low_rank_model import PARTS, SCHEDULES, factorise, rank_schedule
from .low_rank_plots import curves_figure, tradeoff_figure
from .registry import Experiment
from .results import ExperimentResult, markdown_table


@dataclass(frozen=True)
class LowRankConfig:
    tokenizer: str = "gpt2"
    vocab: int = 1024  # compacted vocabulary
    heldout_samples: int = 16
    heldout_max_tokens: int = 64
    hidden: int = 64
    layers: int = 4
    heads: int = 4
    kv_heads: int = 4
    intermediate: int = 256
    arms: tuple[str, ...] = ("full", "constant:8", "increasing:8", "decreasing:8", "constant:24",
                             "constant:8:attention", "constant:8:mlp")  # full | SCHEDULE:RANK[:PART]
    steps: int = 100
    batch_size: int = 8
    seq_len: int = 64
    lr: float = 3e-3
    warmup_steps: int = 10
    eval_every: int = 25
    seed: int = 0


@dataclass(frozen=True)
class Arm:
    label: str
    schedule: str | None = None  # None: the full-rank model
    rank: int = 0
    part: str = "all"


def parse_arm(text: str) -> Arm:
    """`full` or `SCHEDULE:RANK[:PART]` (ValueError naming the accepted forms otherwise)."""
    if text == "full":
        return Arm("full")
    fields = text.split(":")
    if len(fields) not in (2, 3) or fields[0] not in SCHEDULES or not fields[1].isdigit() or int(fields[1]) < 1 \
            or (len(fields) == 3 and fields[2] not in PARTS):
        raise ValueError(f"bad arm {text!r}: expected 'full' or SCHEDULE:RANK[:PART] with SCHEDULE in "
                         f"{list(SCHEDULES)}, RANK >= 1, PART in {list(PARTS)}")
    return Arm(text, fields[0], int(fields[1]), fields[2] if len(fields) == 3 else "all")


def build_arm(arm: Arm, config: LowRankConfig, vocab: int) -> tuple[torch.nn.Module, list[int]]:
    shape = ModelShape(hidden=config.hidden, layers=config.layers, heads=config.heads, kv_heads=config.kv_heads,
                       intermediate=config.intermediate, max_positions=max(512, config.seq_len + 1))
    model = tiny_llama(shape, vocab, config.seed)
    if arm.schedule is None:
        return model, []
    ranks = rank_schedule(arm.schedule, arm.rank, config.layers)
    return factorise(model, ranks, arm.part, seed=config.seed), ranks


def layer_matmul_parameters(model: torch.nn.Module) -> int:
    """Matmul parameters of the decoder layers (what the factorisation changes; embedding and head excluded)."""
    return matmul_parameters(model) - model.lm_head.weight.numel()


def run(config: LowRankConfig, ctx: RunContext) -> ExperimentResult:
    started, load_before = time.monotonic(), os.getloadavg()[0]
    arms = [parse_arm(text) for text in config.arms]
    data = TextData.build(DataSpec(tokenizer=config.tokenizer, vocab=config.vocab,
                                   heldout_samples=config.heldout_samples,
                                   heldout_max_tokens=config.heldout_max_tokens, seed=0))
    spec = TrainSpec(steps=config.steps, batch_size=config.batch_size, seq_len=config.seq_len, lr=config.lr,
                     warmup_steps=config.warmup_steps, eval_every=config.eval_every)
    rows, curves = [], {}
    for arm in arms:
        arm_started = time.monotonic()
        model, ranks = build_arm(arm, config, data.vocab_size)
        curve = train(model, data, spec, config.seed, device=ctx.device)
        curves[arm.label] = curve
        rows.append({"arm": arm.label, "schedule": arm.schedule or "full", "rank": arm.rank or "", "part": arm.part,
                     "ranks": "/".join(map(str, ranks)), "parameters": sum(p.numel() for p in model.parameters()),
                     "layer_matmul_parameters": layer_matmul_parameters(model),
                     "matmul_parameters": matmul_parameters(model),
                     "train_flops": train_flops(model, spec.steps * spec.batch_size * spec.seq_len),
                     "final_loss": curve.loss[-1], "best_loss": min(curve.loss),
                     "seconds": round(time.monotonic() - arm_started, 1)})
        ctx.log(f"  {arm.label}: {rows[-1]['layer_matmul_parameters']} layer matmul parameters, "
                f"loss {curve.loss[0]:.3f} -> {curve.loss[-1]:.4f} in {rows[-1]['seconds']} s")
    full = next((r for r in rows if r["arm"] == "full"), None)
    for row in rows:
        row["loss_vs_full"] = row["final_loss"] - full["final_loss"] if full else ""
        row["parameter_fraction"] = row["layer_matmul_parameters"] / full["layer_matmul_parameters"] if full else ""
    wall = time.monotonic() - started
    summary = _summary(config, rows, full, wall, load_before, ctx)
    low = [r for r in rows if r["arm"] != "full"]
    best = min(low, key=lambda r: r["final_loss"]) if low else None
    headline = {"full_loss": full["final_loss"] if full else "none", "arms": len(rows),
                "best_low_rank": best["arm"] if best else "none",
                "best_low_rank_delta": best["loss_vs_full"] if best and full else 0.0,
                "best_low_rank_param_fraction": best["parameter_fraction"] if best and full else 0.0,
                "wall_s": round(wall)}
    figures = {"loss-vs-params": tradeoff_figure(rows), "curves": curves_figure(curves)}
    return ExperimentResult(rows=rows, summary=summary, headline=headline, figures=figures)


def _summary(config: LowRankConfig, rows: list[dict], full: dict | None, wall: float, load_before: float,
             ctx: RunContext) -> str:
    lines = [f"Tiny patched Llama (hidden {config.hidden}, {config.layers} layers, MLP {config.intermediate}, "
             f"{config.vocab}-id compacted vocabulary), every arm trained from the same seed for {config.steps} "
             f"steps x {config.batch_size} x {config.seq_len} tokens on the same batches; held-out loss (nats/token, "
             f"validator's `sample_losses`) on {config.heldout_samples} samples. 'layer matmul parameters' are the "
             "attention and MLP matrices (factors counted as `(in + out) x r`); embedding and head are equal in "
             "every arm.", ""]
    if full:
        low = sorted((r for r in rows if r["arm"] != "full"), key=lambda r: r["final_loss"])
        beats = [r for r in low if r["final_loss"] < full["final_loss"]]
        lines.append(f"**What it says:** the full-rank model reaches {full['final_loss']:.4f}; "
                     + (f"{len(beats)} low-rank arm(s) beat it ({', '.join(r['arm'] for r in beats)})."
                        if beats else "no low-rank arm beats it: factorising trades loss for parameters, as seed "
                        "003 found."))
        for rank in sorted({r["rank"] for r in low if r["part"] == "all"}):
            same = {r["schedule"]: r for r in low if r["rank"] == rank and r["part"] == "all"}
            if len(same) > 1:
                order = sorted(same.values(), key=lambda r: r["final_loss"])
                lines.append(f"Mean rank {rank}: " + " < ".join(f"{r['schedule']} {r['final_loss']:.4f}"
                                                               for r in order)
                             + f" (spread {order[-1]['final_loss'] - order[0]['final_loss']:.4f} nats).")
    lines += ["", markdown_table(rows, ["arm", "ranks", "layer_matmul_parameters", "parameter_fraction",
                                        "train_flops", "final_loss", "loss_vs_full"]),
              f"Run: {wall:.0f} s on {ctx.device} ({torch.get_num_threads()} threads), load average "
              f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. One seed: differences of a "
              "few hundredths of a nat are within seed noise at this scale."]
    return "\n".join(lines)


EXPERIMENT = Experiment(
    name="low-rank",
    question="attention and MLP matrices as low-rank factors (constant / increasing / decreasing ranks): loss "
             "against parameter count",
    config_type=LowRankConfig,
    run=run,
)
