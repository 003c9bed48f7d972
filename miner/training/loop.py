"""The training loop: `train(config)` from the first step (or the last checkpoint) to `config.steps`.

Read top to bottom: start the processes, find the model (a folder or a chain pointer) and any
checkpoint to resume, build the token stream, then step: `grad_accum` micro-batches of forward and
backward (gradients reduced across processes on the last one), clip, AdamW, schedule. Every so often:
the held-out loss with the validator's own routine, a checkpoint, and (optionally) growth.

Exact resume: the batch of a micro-step is a function of (seed, step, rank x grad_accum + micro)
(see data.py), the checkpoint holds the weights bit for bit (fp32 safetensors), the optimiser and
scheduler state and the RNG states, so N steps in one go equal k steps, a restart and N - k more.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from miner.growth import GrowthPlan
from node.evaluation import sample_losses
from node.modeling import load_model_for_eval, read_model_config

from . import checkpoint as ckpt
from .config import TrainConfig
from .data import heldout_ids, make_batches, training_tokenizer
from .distributed import Processes, gradient_sync, replica_digests, start, stop, unwrap, wrap
from .errors import TrainingRefusalKind, TrainingRefused
from .growing import grow_child, new_entries
from .optim import EntryScales, build_optimizer, build_scheduler, clip_gradients
from .source import resolve_source

# Settings a resumed run must share with the run that wrote the checkpoint (others, e.g. steps or lr, may change).
RESUME_KEYS = ("seed", "micro_batch_size", "seq_len", "grad_accum", "data", "corpus_path", "tokenizer", "growth",
               "grown_from", "grown_plan")


@dataclass
class TrainResult:
    out_dir: Path
    checkpoint: Path  # the last checkpoint written (or resumed from)
    step: int
    tokens: int
    losses: list[float] = field(default_factory=list)  # training loss of each step this call ran
    heldout: list[tuple[int, float]] = field(default_factory=list)  # (step, held-out nats per token)
    replicas: list[str] = field(default_factory=list)  # DDP: sha256 of each process's weights at the end

    @property
    def model_dir(self) -> Path:
        return self.checkpoint / "model"


@dataclass
class Phase:
    """One model size: the model, what the loop calls, and its optimiser (a growth step starts a new phase)."""

    model: torch.nn.Module
    module: torch.nn.Module
    optimiser: torch.optim.AdamW
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scales: EntryScales | None
    entries: dict[str, torch.Tensor] | None  # which entries a growth step added (saved with checkpoints)


def train(config: TrainConfig) -> TrainResult:
    processes = start(config.parallelism, config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    source = resolve_source(config.model, hub=config.hub, chain=config.chain)
    try:
        return run(config, processes, source.path)
    finally:
        source.release()
        stop(processes)


def run(config: TrainConfig, processes: Processes, source_dir: Path) -> TrainResult:
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    settings = {key: config.to_dict()[key] for key in RESUME_KEYS}
    latest = ckpt.latest_checkpoint(out)  # the checkpoint to resume from, then the last one written
    if latest is not None:
        state = ckpt.read_state(latest)
        if state.settings != settings:
            changed = sorted(k for k in settings if state.settings.get(k) != settings[k])
            raise TrainingRefused(TrainingRefusalKind.RESUME_MISMATCH,
                                  f"{latest} was trained with other {changed}; use a new out_dir")
        model_dir, entries = latest / "model", ckpt.load_new_entries(latest)
    else:
        state = ckpt.TrainState(step=0, tokens=0, growths_done=0, phase_start=0, settings=settings)
        model_dir, entries = source_dir, None
    grown = None
    if latest is None and config.grown_from is not None:
        grown = (Path(config.grown_from), GrowthPlan.from_file(config.grown_plan))

    tokenizer = training_tokenizer(source_dir, config.tokenizer)
    vocab = read_model_config(model_dir).vocab_size
    batches = make_batches(config.data, tokenizer, vocab, config.seed, config.micro_batch_size, config.seq_len,
                           config.corpus_path)
    heldout = [] if config.eval_every < 0 else heldout_ids(tokenizer, vocab, config.eval_samples, config.eval_seed,
                                                           config.corpus_path)
    phase = load_phase(model_dir, config, processes, state.phase_start, entries, grown)
    if latest is not None:
        ckpt.load_trainer(latest, phase.module, phase.optimiser, phase.scheduler, processes)
        extend_schedule(phase.scheduler, config.steps)
    autocast = (torch.autocast(processes.device.type, dtype=torch.bfloat16) if config.dtype == "bfloat16"
                else contextlib.nullcontext())
    tokens_per_step = processes.world * config.tokens_per_step_per_rank
    show = config.progress if config.progress is not None else sys.stderr.isatty()
    bar = tqdm(total=config.steps, initial=state.step, disable=not (show and processes.main), unit="step",
               dynamic_ncols=True)
    log = (out / "log.jsonl").open("a") if processes.main else None
    result = TrainResult(out, latest or out, state.step, state.tokens)

    end = config.steps if config.stop_at is None else min(config.steps, config.stop_at)
    while state.step < end:
        if state.growths_done < len(config.growth) and state.tokens >= config.growth[state.growths_done].at_tokens:
            if latest is None or latest.name != ckpt.step_dir(out, state.step).name:
                latest = save(out, state, phase, processes, source_dir, config)
            child = out / f"growth-{state.growths_done}"
            if processes.main:
                child = grow_child(latest / "model", out, state.growths_done, config.growth[state.growths_done].plan)
            processes.barrier()
            grown = (latest / "model", GrowthPlan.from_file(config.growth[state.growths_done].plan))
            state = replace(state, growths_done=state.growths_done + 1, phase_start=state.step)
            phase = load_phase(child, config, processes, state.phase_start, None, grown)
            continue

        started = time.perf_counter()
        loss, grad_norm = train_step(phase, batches, state.step, processes, config, autocast)
        lr = phase.scheduler.get_last_lr()[0]
        phase.scheduler.step()
        state = replace(state, step=state.step + 1, tokens=state.tokens + tokens_per_step)
        loss = processes.mean(loss)
        result.losses.append(loss)
        tokens_per_s = tokens_per_step / (time.perf_counter() - started)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.2e}", tok_s=f"{tokens_per_s:,.0f}", refresh=False)
        record = {"step": state.step, "tokens": state.tokens, "loss": loss, "lr": lr, "grad_norm": grad_norm,
                  "tokens_per_s": tokens_per_s}

        last = state.step == end
        if config.checkpoint_every and state.step % config.checkpoint_every == 0 or last:
            latest = save(out, state, phase, processes, source_dir, config)
            result.checkpoint = latest
        if heldout and (last or config.eval_every and state.step % config.eval_every == 0):
            record["heldout_loss"] = heldout_loss(phase, processes, heldout, latest, state.step)
            result.heldout.append((state.step, record["heldout_loss"]))
            if show and processes.main:
                bar.write(f"step {state.step}: held-out loss {record['heldout_loss']:.4f} nats/token")
        if log is not None and (state.step % config.log_every == 0 or last or "heldout_loss" in record):
            log.write(json.dumps(record) + "\n")
            log.flush()

    bar.close()
    if processes.parallelism == "ddp":
        result.replicas = replica_digests(phase.module, processes)
        if len(set(result.replicas)) != 1:
            raise RuntimeError(f"DDP replicas differ after step {state.step}: {result.replicas}")
    if log is not None:
        if result.replicas:
            log.write(json.dumps({"step": state.step, "replica_sha256": result.replicas}) + "\n")
        log.close()
    result.step, result.tokens = state.step, state.tokens
    if latest is not None:
        result.checkpoint = latest
    return result


def extend_schedule(scheduler: torch.optim.lr_scheduler.LambdaLR, steps: int) -> None:
    """A resumed run may change `steps`: the schedule spans the new total from the next step on (the same
    arithmetic as LambdaLR's, so with `steps` unchanged the learning rates are bit-identical)."""
    scheduler.lr_lambdas[0].total = steps
    for group, base in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, strict=True):
        group["lr"] = base * scheduler.lr_lambdas[0](scheduler.last_epoch)
    scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]


def train_step(phase: Phase, batches, step: int, processes: Processes, config: TrainConfig,
               autocast) -> tuple[float, float | None]:
    """One optimiser step over `grad_accum` micro-batches: (mean micro-batch loss on this process, the
    global gradient norm before clipping, or None without clipping)."""
    total = 0.0
    for micro in range(config.grad_accum):
        ids = batches.batch(step, processes.rank * config.grad_accum + micro).to(processes.device)
        with gradient_sync(phase.module, processes, sync=micro == config.grad_accum - 1):
            with autocast:
                logits = phase.module(input_ids=ids[:, :-1], use_cache=False).logits
            loss = F.cross_entropy(logits.float().flatten(0, 1), ids[:, 1:].flatten())
            (loss / config.grad_accum).backward()
        total += loss.item()
    if phase.scales is not None:
        phase.scales.mask_gradients()
        phase.scales.remember()
    norm = None
    if config.grad_clip is not None:
        norm = clip_gradients(phase.module.parameters(), config.grad_clip, sharded=processes.parallelism == "fsdp")
    phase.optimiser.step()
    if phase.scales is not None:
        phase.scales.apply()
    phase.optimiser.zero_grad(set_to_none=True)
    return total / config.grad_accum, norm


def load_phase(model_dir: Path, config: TrainConfig, processes: Processes, phase_start: int,
               entries: dict[str, torch.Tensor] | None, grown: tuple[Path, GrowthPlan] | None = None) -> Phase:
    """Load the patched model from `model_dir`, wrap it for the processes, build its optimiser and schedule.

    `grown` = (parent folder, plan) when `model_dir` was grown from that parent: the new entries come from it."""
    # under FSDP2 the whole model is loaded into CPU memory and fully_shard moves only each rank's shard to the device
    device = "cpu" if processes.parallelism == "fsdp" else processes.device
    model = load_model_for_eval(model_dir, device=device).train()
    model.config.use_cache = False
    if grown is not None:
        entries = new_entries(grown[0], grown[1], [name for name, _ in model.named_parameters()])
    if config.gradient_checkpointing:
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    scales = None
    if entries is not None and (config.freeze_inherited or config.new_lr_scale != 1.0):
        if processes.parallelism == "fsdp":
            raise TrainingRefused(TrainingRefusalKind.ENTRY_SCALES_UNDER_FSDP,
                                  "new_lr_scale / freeze_inherited act per entry of unsharded tensors; use ddp")
        scales = EntryScales(model, entries, config.new_lr_scale, config.freeze_inherited)
    module = wrap(model, processes)
    optimiser = build_optimizer(module, config)
    return Phase(model, module, optimiser, build_scheduler(optimiser, config, phase_start), scales, entries)


def save(out: Path, state: ckpt.TrainState, phase: Phase, processes: Processes, source_dir: Path,
         config: TrainConfig) -> Path:
    return ckpt.save_checkpoint(out, state, phase.module, phase.optimiser, phase.scheduler, processes, source_dir,
                                config.keep_last, phase.entries)


def heldout_loss(phase: Phase, processes: Processes, heldout: list, checkpoint: Path | None, step: int) -> float:
    """Held-out nats per token with `node.evaluation.sample_losses`, the validator's routine, on the
    first process. Under FSDP2 the weights are sharded, so the checkpoint just written is loaded instead."""
    value = float("nan")
    if processes.main:
        if processes.parallelism == "fsdp":
            if checkpoint is None or checkpoint.name != f"step-{step:06d}":
                raise ValueError("under fsdp the held-out loss is measured on checkpoints: set checkpoint_every "
                                 "to a divisor of eval_every")
            model = load_model_for_eval(checkpoint / "model")
        else:
            model = unwrap(phase.module).eval()
        losses = sample_losses(model, heldout)
        scored = [(loss, len(ids) - 1) for loss, ids in zip(losses, heldout, strict=True) if len(ids) >= 2]
        value = sum(loss for loss, _ in scored) / sum(n for _, n in scored)
        unwrap(phase.module).train()
    processes.barrier()
    return value
