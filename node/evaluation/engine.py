"""Evaluate a checkpoint: full when it fits the memory budget, sliced when it does not.

The folder passes the gate (`node.gate.check_model_dir`) first, which also gives the size: parameter
count x bytes of the evaluation dtype, from the safetensors headers, before anything is allocated.
The budget is a fraction of GPU memory on CUDA, and on CPU of what this process may still allocate:
free RAM, its cgroup's remaining allowance and its address-space limit, whichever is tightest (the
reference used 35% of GPU memory).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from node.gate import ModelLimits, available_memory_bytes, check_model_dir
from node.modeling import load_model_for_eval
from node.modeling.attention import pick_attention

from . import resident
from .loss import LossLayout, sample_losses
from .sliced import sliced_sample_losses

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class EvalSettings:
    dtype: str = "float32"
    device: str = "cpu"
    memory_fraction: float = 0.35
    memory_budget_bytes: int | None = None  # overrides memory_fraction when set
    layout: LossLayout | None = None  # None: LossLayout.for_device(device)
    attn_implementation: str = "auto"  # auto: flash-attn on CUDA when installed, else sdpa
    resident_bytes: int = 0  # keep recently used whole models loaded up to this many bytes (see resident.py)

    @property
    def torch_dtype(self) -> torch.dtype:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {self.dtype!r}")
        return DTYPES[self.dtype]


@dataclass
class EvalReport:
    losses: list[float]
    num_slices: int
    model_bytes: int
    budget_bytes: int
    seconds: float
    notes: list[str] = field(default_factory=list)


def parameter_count(checkpoint_dir: str | Path) -> int:
    """Stored parameters, from the safetensors headers only (after the gate)."""
    return check_model_dir(checkpoint_dir).parameters


def memory_budget(settings: EvalSettings) -> int:
    if settings.memory_budget_bytes is not None:
        return settings.memory_budget_bytes
    if settings.device.startswith("cuda"):
        _, total = torch.cuda.mem_get_info(torch.device(settings.device))
    else:
        total = available_memory_bytes()
    return int(total * settings.memory_fraction)


def evaluate_checkpoint(
    checkpoint_dir: str | Path, samples: Sequence[Sequence[int]], settings: EvalSettings,
    limits: ModelLimits | None = None,
) -> EvalReport:
    """Per-sample summed CE for every sample (inf for samples of < 2 tokens); `Refused` for a refused folder
    or token ids outside the model's vocabulary."""
    started = time.perf_counter()
    dtype = settings.torch_dtype
    budget = memory_budget(settings)
    limits = replace(limits or ModelLimits(), eval_dtype=settings.dtype, memory_budget_bytes=budget)
    checked = check_model_dir(checkpoint_dir, limits)
    config = checked.config
    model_bytes = checked.parameters * torch.finfo(dtype).bits // 8
    num_slices = max(1, math.ceil(model_bytes / max(budget, 1)))
    layout = settings.layout or LossLayout.for_device(settings.device)
    attention = settings.attn_implementation
    if attention == "auto":
        attention = pick_attention(settings.device)
    if num_slices == 1:
        def load():
            return load_model_for_eval(checkpoint_dir, dtype=dtype, device=settings.device,
                                       attn_implementation=attention, limits=limits)

        key = resident.folder_key(checkpoint_dir, settings.dtype, settings.device, attention)
        model = resident.get_or_load(key, model_bytes, settings.resident_bytes, load)
        losses = sample_losses(model, samples, layout)
    else:
        num_slices = min(num_slices, config.num_hidden_layers)
        losses = sliced_sample_losses(checkpoint_dir, samples, num_slices, dtype=dtype, device=settings.device,
                                      attn_implementation=attention, layout=layout)
    return EvalReport(losses, num_slices, model_bytes, budget, time.perf_counter() - started)
