"""virtual-layers: grow a small trained model k-fold in depth as weight-tied virtual layers (`layer_map`) or as
copied real layers, train only adapters (LoRA, IA3) for the same steps, and compare stored parameters,
trainable parameters, memory and held-out loss.

Arms are `FORM+ADAPTER` (see `adapter_arms`): `virtual+pos-lora` (ours: a LoRA per executed position on the
shared layers), `copied+peft-lora` (peft's LoRA on real copies: also one per position), `virtual+peft-lora`
(peft on the tied model: one LoRA per stored layer, shared by its positions), and the IA3 counterparts. With
the base weights frozen, `virtual+pos-X` and `copied+peft-X` are the same function with the same start, so
their curves should agree to float rounding: what virtual layers change is storage, not the result.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from node.assets.layout import SMALL_MODEL_LLAMA, AssetLayout

from . import lab
from .adapter_arms import (
    ADAPTERS,
    FORMS,
    AdapterSpec,
    attach,
    grow_both,
    load_form,
    saved_activation_bytes,
    scratch_dir,
    stored_bytes,
    stored_parameters,
    training_state_bytes,
)
from .context import RunContext
from .position_adapters import IA3_TARGETS, LORA_TARGETS
from .registry import Experiment
from .results import ExperimentResult, markdown_table
from .virtual_layers_plots import curves_figure, footprint_figure

BASES = ("tiny", "smollm2")
MB = 1024**2


@dataclass(frozen=True)
class VirtualLayersConfig:
    seed: int = 0
    base: str = "tiny"  # tiny: a tiny Llama trained here first; smollm2: the offline SmolLM2-135M (GPU scale)
    # data (tiny base: compacted vocabulary; smollm2 uses its own tokenizer and full vocabulary)
    tokenizer: str = "gpt2"
    vocab: int = 2048
    heldout_samples: int = 32
    heldout_max_tokens: int = 128
    # tiny base model and its pre-training
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 4
    intermediate: int = 512
    base_steps: int = 120
    base_lr: float = 3e-3
    # growth
    growth: str = "stack"  # stack: [0..L-1] * times; interpolate: each layer `times` times in place
    times: int = 2
    # arms and adapters
    arms: tuple[str, ...] = ("virtual+pos-lora", "copied+peft-lora", "virtual+peft-lora", "virtual+pos-ia3",
                             "copied+peft-ia3")
    rank: int = 8
    alpha: float = 16.0
    lora_targets: tuple[str, ...] = LORA_TARGETS
    ia3_targets: tuple[str, ...] = IA3_TARGETS
    # adapter training (the same for every arm; IA3 gets its own learning rate)
    steps: int = 60
    batch_size: int = 8
    seq_len: int = 64
    lr: float = 3e-3
    ia3_lr: float = 3e-2
    warmup_steps: int = 6
    eval_every: int = 15

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise ValueError(f"base must be one of {BASES}, got {self.base!r}")
        if not self.arms:
            raise ValueError("arms must name at least one FORM+ADAPTER")
        for arm in self.arms:
            form, _, adapter = arm.partition("+")
            if form not in FORMS or adapter not in ADAPTERS:
                raise ValueError(f"arm {arm!r} must be FORM+ADAPTER with FORM in {FORMS} and ADAPTER in {ADAPTERS}")
        if len(set(self.arms)) != len(self.arms):
            raise ValueError(f"arms repeat: {list(self.arms)}")


def train_spec(config: VirtualLayersConfig, adapter: str) -> lab.TrainSpec:
    lr = config.ia3_lr if adapter.endswith("ia3") else config.lr
    return lab.TrainSpec(steps=config.steps, batch_size=config.batch_size, seq_len=config.seq_len, lr=lr,
                         warmup_steps=config.warmup_steps, weight_decay=0.0, eval_every=config.eval_every)


def build_base(config: VirtualLayersConfig, ctx: RunContext) -> tuple[torch.nn.Module, lab.TextData]:
    """The small trained model and the data in its vocabulary."""
    if config.base == "smollm2":
        model_dir = AssetLayout.default().model_dir(SMALL_MODEL_LLAMA)
        data = lab.TextData.build(lab.DataSpec(str(model_dir / "tokenizer.json"), 0, config.heldout_samples,
                                               config.heldout_max_tokens, config.seed))
        return load_form(model_dir), data
    data = lab.TextData.build(lab.DataSpec(config.tokenizer, config.vocab, config.heldout_samples,
                                           config.heldout_max_tokens, config.seed))
    shape = lab.ModelShape(config.hidden, config.layers, config.heads, config.kv_heads, config.intermediate)
    model = lab.tiny_llama(shape, data.vocab_size, config.seed)
    spec = replace(train_spec(config, "base"), steps=config.base_steps, lr=config.base_lr, weight_decay=0.1,
                   eval_every=max(1, config.base_steps))
    ctx.log(f"training the tiny base ({config.base_steps} steps)")
    lab.train(model, data, spec, seed=config.seed + 1000, device=ctx.device)
    return model.cpu(), data


def run_arm(config: VirtualLayersConfig, ctx: RunContext, arm: str, path, data: lab.TextData) -> dict:
    """Train one arm's adapters; its measurements and curve."""
    form, _, adapter = arm.partition("+")
    torch.manual_seed(config.seed)
    model = load_form(path)
    params = attach(model, adapter, AdapterSpec(config.rank, config.alpha, config.lora_targets,
                                                config.ia3_targets, config.seed))
    model.to(ctx.device)
    probe = data.batch(config.seed, 0, config.batch_size, config.seq_len).to(ctx.device)
    activations = saved_activation_bytes(model, probe, params)
    if ctx.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(ctx.device)
    started = time.monotonic()
    curve = lab.train(model, data, train_spec(config, adapter), config.seed, parameters=params, device=ctx.device,
                      on_eval=lambda step, loss: ctx.log(f"  {arm} step {step}: held-out {loss:.4f}"))
    measured = {
        "arm": arm, "form": form, "adapter": adapter, "positions": model.config.num_hidden_layers,
        "stored_layers": len(model.model.layers), "stored_params": stored_parameters(model),
        "trainable_params": sum(p.numel() for p in params), "stored_mb": stored_bytes(model) / MB,
        "train_state_mb": training_state_bytes(params) / MB, "activation_mb": activations / MB,
        "loss_start": curve.loss[0], "loss_end": curve.loss[-1], "train_s": time.monotonic() - started,
    }
    if ctx.device.type == "cuda":
        measured["cuda_peak_mb"] = torch.cuda.max_memory_allocated(ctx.device) / MB
    return {"measured": measured, "curve": curve}


def run(config: VirtualLayersConfig, ctx: RunContext) -> ExperimentResult:
    started, load_start = time.monotonic(), os.getloadavg()[0]
    torch.manual_seed(config.seed)
    base, data = build_base(config, ctx)
    base_loss = lab.heldout_loss(base.to(ctx.device), data)
    ctx.log(f"base: {base.config.num_hidden_layers} layers, held-out {base_loss:.4f}")
    results = {}
    with scratch_dir(ctx.out_dir) as work:
        paths = grow_both(base.cpu(), config.times, config.growth, Path(work))
        del base
        for arm in config.arms:
            ctx.log(f"arm {arm}")
            results[arm] = run_arm(config, ctx, arm, paths[arm.partition("+")[0]], data)
    rows = []
    for result in results.values():
        curve = result["curve"]
        for step, (tokens, loss) in enumerate(zip(curve.tokens, curve.loss, strict=True)):
            rows.append({**result["measured"], "base_loss": base_loss, "eval": step, "tokens": tokens,
                         "heldout_loss": loss})
    wall, load_end = time.monotonic() - started, os.getloadavg()[0]
    summary, headline = describe(config, results, base_loss, wall, (load_start, load_end), ctx)
    return ExperimentResult(rows=rows, summary=summary, headline=headline,
                            figures={"curves": curves_figure(results, base_loss),
                                     "footprint": footprint_figure(results)})


def _agreement(results: dict, a: str, b: str) -> float | None:
    if a in results and b in results:
        return max(abs(x - y) for x, y in zip(results[a]["curve"].loss, results[b]["curve"].loss, strict=True))
    return None


def describe(config: VirtualLayersConfig, results: dict, base_loss: float, wall: float, loads: tuple, ctx):
    measured = [r["measured"] for r in results.values()]
    no_adapter = measured[0]["loss_start"]
    columns = ["arm", "stored_params", "trainable_params", "stored_mb", "train_state_mb", "activation_mb",
               "loss_start", "loss_end"] + (["cuda_peak_mb"] if ctx.device.type == "cuda" else [])
    lora = _agreement(results, "virtual+pos-lora", "copied+peft-lora")
    ia3 = _agreement(results, "virtual+pos-ia3", "copied+peft-ia3")
    shared = results.get("virtual+peft-lora", {}).get("measured", {}).get("loss_end")
    per_position = results.get("virtual+pos-lora", {}).get("measured", {}).get("loss_end")
    if config.base == "smollm2":
        base_text = "SmolLM2-135M (offline asset, own vocabulary)"
    else:
        base_text = (f"tiny Llama (hidden {config.hidden}, {config.layers} layers, vocabulary {config.vocab}, "
                     f"trained {config.base_steps} steps here)")
    lines = [
        f"Base: {base_text}, held-out loss {base_loss:.4f}; grown {config.times}x by `{config.growth}` with "
        f"duplicates keeping their trained writers (so not loss-preserving): loss with no adapters "
        f"{no_adapter:.4f}. Each arm then trains only its adapters for {config.steps} steps of "
        f"{config.batch_size}x{config.seq_len} tokens (LoRA rank "
        f"{config.rank}, alpha {config.alpha}, lr {config.lr}; IA3 lr {config.ia3_lr}), seed {config.seed}.",
        "",
        "Arms are FORM+ADAPTER: `virtual` = duplicates stored once and re-run (`layer_map`), `copied` = real "
        "layers; `pos-lora`/`pos-ia3` = ours, one adapter per executed position around the shared layer "
        "(`miner/experiments/position_adapters.py`), `peft-lora`/`peft-ia3` = peft 0.21, one adapter per stored "
        "module (so on `virtual` a tied layer's positions share it). peft's LoRA A is set to the start ours uses.",
        "",
        markdown_table(measured, columns),
        "Memory is counted from tensors: `stored_mb` parameters held (a tied layer once), `train_state_mb` "
        "gradient + AdamW moments of the trainable parameters, `activation_mb` the distinct non-parameter tensors "
        "autograd saved in one training step" + (", `cuda_peak_mb` torch's peak allocation over the training run."
                                                 if ctx.device.type == "cuda" else "."),
        "",
    ]
    if lora is not None:
        lines.append(f"* virtual + per-position LoRA vs copied + peft LoRA: max |loss difference| over the curve "
                     f"{lora:.2e} (same function, same start).")
    if ia3 is not None:
        lines.append(f"* virtual + per-position IA3 vs copied + peft IA3: max |loss difference| {ia3:.2e}.")
    if shared is not None and per_position is not None:
        lines.append(f"* peft on the tied model (adapters shared by a layer's positions) ends at {shared:.4f} "
                     f"against {per_position:.4f} with per-position adapters.")
    lines.append(f"* ran in {wall:.0f} s on {ctx.device} with {torch.get_num_threads()} torch threads, load "
                 f"average {loads[0]:.1f} at the start and {loads[1]:.1f} at the end (shared machine).")
    headline = {"base_loss": base_loss, "no_adapter_loss": no_adapter}
    for m in measured:
        headline[f"{m['arm']}_loss"] = m["loss_end"]
    if lora is not None:
        headline["lora_virtual_vs_copied_max_diff"] = lora
    virtual = next((m for m in measured if m["form"] == "virtual"), None)
    copied = next((m for m in measured if m["form"] == "copied"), None)
    if virtual and copied:  # the grown weights alone, adapters left out
        headline["stored_ratio_copied_over_virtual"] = (
            (copied["stored_params"] - copied["trainable_params"])
            / (virtual["stored_params"] - virtual["trainable_params"]))
    return "\n".join(lines), headline


EXPERIMENT = Experiment(
    name="virtual-layers",
    question="weight-tied virtual layers with per-position adapters against copied layers with the same adapters: "
             "parameters, memory, loss",
    config_type=VirtualLayersConfig,
    run=run,
)
