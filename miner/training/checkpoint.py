"""Training checkpoints: complete folders `step-000100/`, written under a temporary name and renamed.

    step-000100/
      model/                 save_pretrained of the patched class (safetensors): loads with
                             node.modeling.load_model_for_eval, publishable as is; tokenizer files copied
      trainer.pt             optimiser and scheduler state (full, keyed by parameter name)
      rng-rank<r>.pt         each process's torch (and CUDA) and Python RNG states
      new_entries.safetensors  which entries a growth step added (only after growth)
      state.json             step, tokens seen, growth steps done, the settings resume must match

A folder counts only once renamed to `step-NNNNNN` (the rename is atomic and happens after every
file is written and the processes have met at a barrier), so a crash mid-write leaves a
`.step-NNNNNN.partial` folder that is ignored and replaced. The last `keep_last` are kept.

Why full (gathered) state and not per-rank shards: one process, DDP and FSDP2 runs then write the
same files, a run can resume on a different number of processes, and the model folder is what a
miner publishes. `torch.distributed.checkpoint.state_dict` gathers and re-shards both the model and
the optimiser state for every wrapping.
"""

from __future__ import annotations

import json
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from transformers.utils import logging as hf_logging

from miner.growth.grow import _copy_extras  # tokenizer and generation files travel with the weights
from node.hub.fsutil import write_atomic

from .distributed import Processes, unwrap

STEP_DIR = re.compile(r"^step-(\d{6,})$")
FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


@dataclass(frozen=True)
class TrainState:
    """Where a run is: everything besides tensors that resuming needs."""

    step: int  # optimiser steps done; the next batch is batch(step, ...)
    tokens: int  # training tokens seen over all processes
    growths_done: int  # growth steps of the schedule already applied
    phase_start: int  # step at which the current model (after the last growth) started training
    settings: dict[str, Any]  # the config values a resumed run must share (see loop.RESUME_KEYS)


def step_dir(out_dir: Path, step: int) -> Path:
    return out_dir / f"step-{step:06d}"


def complete_checkpoints(out_dir: Path) -> list[Path]:
    """Complete checkpoint folders, oldest first."""
    if not out_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out_dir.iterdir() if (m := STEP_DIR.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(found) if (p / "state.json").is_file()]


def latest_checkpoint(out_dir: Path) -> Path | None:
    done = complete_checkpoints(out_dir)
    return done[-1] if done else None


def save_checkpoint(out_dir: Path, state: TrainState, module: torch.nn.Module, optimiser: torch.optim.Optimizer,
                    scheduler: Any, processes: Processes, source_dir: Path, keep_last: int,
                    new_entries: dict[str, torch.Tensor] | None = None) -> Path:
    """Write `step-<state.step>/` (collective: every process calls it) and prune old ones."""
    final = step_dir(out_dir, state.step)
    tmp = out_dir / f".{final.name}.partial"
    model_state = get_model_state_dict(module, options=FULL)  # collective under FSDP2
    optim_state = get_optimizer_state_dict(module, optimiser, options=FULL)
    if processes.main:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_model(unwrap(module), model_state, tmp / "model", source_dir)
        torch.save({"optimizer": optim_state, "scheduler": scheduler.state_dict()}, tmp / "trainer.pt")
        if new_entries:
            save_file({k: v.contiguous() for k, v in new_entries.items()}, tmp / "new_entries.safetensors")
    processes.barrier()
    torch.save(rng_state(processes.device), tmp / f"rng-rank{processes.rank}.pt")
    processes.barrier()
    if processes.main:
        write_atomic(tmp / "state.json", json.dumps(state.__dict__, indent=2, sort_keys=True).encode())
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        for old in complete_checkpoints(out_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    processes.barrier()
    return final


def save_model(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], dest: Path, source_dir: Path) -> None:
    """`save_pretrained` of the patched class with the gathered weights; `architectures` as the source had it
    (transformers writes the class name, which would drop a `Sliced*` marker a grown checkpoint carries)."""
    architectures = list(model.config.architectures or [])
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the training bar is the one progress display
    try:
        model.save_pretrained(dest, state_dict=state_dict)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if architectures:
        model.config.architectures = architectures
        model.config.save_pretrained(dest)
    _copy_extras(source_dir, dest)


def read_state(checkpoint: Path) -> TrainState:
    return TrainState(**json.loads((checkpoint / "state.json").read_text()))


def load_trainer(checkpoint: Path, module: torch.nn.Module, optimiser: torch.optim.Optimizer, scheduler: Any,
                 processes: Processes) -> None:
    """Optimiser, scheduler and this rank's RNG states from `checkpoint` (the model is loaded separately)."""
    saved = torch.load(checkpoint / "trainer.pt", weights_only=True, map_location="cpu")
    set_optimizer_state_dict(module, optimiser, saved["optimizer"], options=StateDictOptions(full_state_dict=True))
    scheduler.load_state_dict(saved["scheduler"])
    rng = checkpoint / f"rng-rank{processes.rank}.pt"
    if rng.is_file():  # absent when resuming on more processes than wrote the checkpoint
        set_rng_state(torch.load(rng, weights_only=True), processes.device)


def load_new_entries(checkpoint: Path) -> dict[str, torch.Tensor] | None:
    path = checkpoint / "new_entries.safetensors"
    return load_file(path) if path.is_file() else None


def rng_state(device: torch.device) -> dict[str, Any]:
    """Data batches use their own seeded generators; these cover anything else random (dropout)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)
