"""AdamW with weight decay on matrices only, the learning-rate schedule, and per-entry scales for grown models.

Per-entry scales: a growth step adds entries inside existing tensors (new rows and columns), so a
higher learning rate or a freeze for "the new part" cannot be a parameter group. Adam's update does
not scale with the gradient, so it is done on the update itself: after the optimiser step,
`p = p_before + scale * (p - p_before)` with scale 1 for inherited entries and `new_lr_scale` for new
ones (0 for inherited ones when frozen, whose gradients are also zeroed before clipping so that
they do not shrink the new entries' step). That is exactly a per-entry learning rate, weight decay
included.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import TrainConfig


@torch.no_grad()
def clip_gradients(parameters, max_norm: float, sharded: bool) -> float:
    """Scale gradients so that their global L2 norm is at most `max_norm`; returns the norm before.

    Why not `torch.nn.utils.clip_grad_norm_`: its fp32 norm of sharded gradients (FSDP2) rounds
    differently from the norm of whole ones, so the same step clipped under FSDP2 and under DDP or
    one process gave weights that differ in the last bit. Here the sum of squares is accumulated in
    fp64 (over each process's shards, then summed across processes), so the fp32 scale factor is the
    same however the gradients are cut (the fp64 sums differ by ~1e-16 relative, far below one fp32
    rounding step); and gradients are left untouched when the norm is under the limit."""
    grads = [p.grad for p in parameters if p.grad is not None]
    local = [g.to_local() if hasattr(g, "to_local") else g for g in grads]
    squares = torch.zeros((), dtype=torch.float64, device=local[0].device if local else "cpu")
    for grad in local:
        squares += torch.linalg.vector_norm(grad, dtype=torch.float64).square()
    if sharded:
        torch.distributed.all_reduce(squares)
    norm = float(squares.sqrt())
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        torch._foreach_mul_(local, scale)
    return norm


def build_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """Two groups: matrices (decayed) and vectors (norm weights, biases: not decayed). `fused` where
    this torch has a fused AdamW kernel for the device (CPU and CUDA in torch >= 2.4)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    fused = bool(params) and params[0].device.type in ("cpu", "cuda")
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=config.lr, betas=config.betas, eps=config.eps,
                             fused=fused or None)


@dataclass
class Schedule:
    """Learning-rate factor per global step: warm-up, then cosine (or stable then linear decay) to
    `min_ratio`. After a growth step the factor warms up again from the step the phase started at.

    A plain object (not a lambda) so that `LambdaLR.state_dict()` saves it and resume restores it."""

    total: int
    warmup: int
    kind: str
    min_ratio: float
    decay_fraction: float
    phase_start: int = 0

    def __call__(self, epoch: int) -> float:
        step = self.phase_start + epoch
        warm = min(1.0, (step - self.phase_start + 1) / self.warmup) if self.warmup else 1.0
        if self.kind == "cosine":
            progress = min(1.0, max(0.0, (step - self.warmup) / max(1, self.total - self.warmup)))
            decay = 0.5 * (1 + math.cos(math.pi * progress))
        else:  # wsd
            decay_start = self.total - max(1, round(self.decay_fraction * self.total))
            decay = 1.0 - min(1.0, max(0.0, (step - decay_start) / max(1, self.total - decay_start)))
        return warm * (self.min_ratio + (1 - self.min_ratio) * decay)


def build_scheduler(optimiser: torch.optim.Optimizer, config: TrainConfig,
                    phase_start: int) -> torch.optim.lr_scheduler.LambdaLR:
    schedule = Schedule(config.steps, config.warmup_steps, config.schedule, config.min_lr_ratio,
                        config.decay_fraction, phase_start)
    return torch.optim.lr_scheduler.LambdaLR(optimiser, schedule)


class EntryScales:
    """Per-entry update scales for the parameters that have new entries (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, new_entries: dict[str, torch.Tensor], new_scale: float,
                 freeze_inherited: bool) -> None:
        self.items: list[tuple[torch.nn.Parameter, torch.Tensor, torch.Tensor | None]] = []
        old_scale = 0.0 if freeze_inherited else 1.0
        for name, param in model.named_parameters():
            mask = new_entries.get(name)
            if mask is None:
                mask = torch.zeros(param.shape, dtype=torch.bool)
            if tuple(mask.shape) != tuple(param.shape):
                raise ValueError(f"new-entry mask of {name} has shape {tuple(mask.shape)}, the parameter "
                                 f"{tuple(param.shape)}: grown_from/grown_plan do not describe this model")
            if old_scale == 1.0 and not mask.any():
                continue  # untouched tensor: plain update
            mask = mask.to(param.device)
            scale = torch.where(mask, new_scale, old_scale).to(param.dtype)
            grad_mask = mask.to(param.dtype) if freeze_inherited else None
            self.items.append((param, scale, grad_mask))
        self.before: list[torch.Tensor] = []

    def mask_gradients(self) -> None:
        """Frozen entries get no gradient (so they neither count in the clipping norm nor feed Adam)."""
        for param, _, grad_mask in self.items:
            if grad_mask is not None and param.grad is not None:
                param.grad.mul_(grad_mask)

    def remember(self) -> None:
        self.before = [param.detach().clone() for param, _, _ in self.items]

    @torch.no_grad()
    def apply(self) -> None:
        for (param, scale, _), before in zip(self.items, self.before, strict=True):
            param.copy_(before + scale * (param - before))
        self.before = []
