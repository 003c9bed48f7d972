"""What one training run does, as a frozen dataclass read from YAML/JSON or built in Python.

Unknown keys are refused (a typo such as `lerning_rate` must not silently train with the default),
and every value is checked before a model is loaded. Example (YAML)::

    model: ~/.cache/sn29-node/assets/models/smollm2-135m-llama   # a folder, or pointer:/hotkey: (see source.py)
    out_dir: runs/first
    steps: 1000
    micro_batch_size: 8
    seq_len: 256
    grad_accum: 4
    lr: 3.0e-4
    warmup_steps: 50
    schedule: cosine            # cosine | wsd (warm-up, stable, decay)
    growth:                     # optional: grow when a token count is reached, then keep training
      - {at_tokens: 2000000, plan: plans/wider.yaml}
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from node.mapping_file import read_mapping_file

SCHEDULES = ("cosine", "wsd")
DATA_SOURCES = ("corpus", "fineweb")
PARALLELISM = ("auto", "ddp", "fsdp")
DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class GrowthStep:
    """Grow with the plan in `plan` (a YAML/JSON file, see `miner.growth.GrowthPlan`) once `at_tokens`
    training tokens have been seen, then keep training the child (fresh optimiser state, re-warm-up)."""

    at_tokens: int
    plan: str

    @classmethod
    def from_dict(cls, data: Any) -> GrowthStep:
        if not isinstance(data, dict) or set(data) != {"at_tokens", "plan"}:
            raise ValueError(f"a growth step is {{at_tokens: N, plan: FILE}}, got {data!r}")
        return cls(**data)

    def __post_init__(self) -> None:
        if isinstance(self.at_tokens, bool) or not isinstance(self.at_tokens, int) or self.at_tokens <= 0:
            raise ValueError(f"growth at_tokens must be a positive integer, got {self.at_tokens!r}")
        if not isinstance(self.plan, str) or not self.plan:
            raise ValueError("growth plan must name a plan file")


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Every field has a default except `model` and `out_dir`."""

    model: str  # a checkpoint folder, `pointer:<namespace:name:commit:hash:competition>` or `hotkey:<ss58>`
    out_dir: str  # checkpoints `step-000100/` go here; an existing run there is resumed
    steps: int = 100  # optimiser steps in total (a resumed run continues up to this)
    stop_at: int | None = None  # end this invocation at this step (checkpointed); the schedule still spans steps
    micro_batch_size: int = 8  # sequences per forward/backward on each process
    seq_len: int = 256  # tokens per sequence (the model reads seq_len and predicts seq_len)
    grad_accum: int = 1  # micro-batches per optimiser step on each process
    lr: float = 3e-4
    min_lr_ratio: float = 0.1  # the schedule ends at lr * min_lr_ratio
    warmup_steps: int = 10
    schedule: str = "cosine"
    decay_fraction: float = 0.2  # wsd only: the last fraction of the steps decays linearly
    weight_decay: float = 0.1  # matrices only (not norms, biases)
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    grad_clip: float | None = 1.0  # max global gradient norm; None: no clipping
    seed: int = 0  # data order; the batch of a step depends only on (seed, step, rank) (see data.py)
    dtype: str = "float32"  # "bfloat16": autocast (meant for GPUs; weights and optimiser state stay fp32)
    gradient_checkpointing: bool = False
    parallelism: str = "auto"  # under torchrun: ddp, or fsdp (FSDP2) for models that do not fit one device
    device: str | None = None  # default: cuda:<local rank> when CUDA is there, else cpu
    threads: int | None = None  # intra-op threads per process on CPU (None: torch's default)
    data: str = "corpus"  # the training part of the offline corpus, or FineWeb (network)
    corpus_path: str | None = None  # default: the built assets' corpus
    tokenizer: str | None = None  # a tokenizer.json, or a competition tokenizer name; default: the model's own
    eval_every: int = 0  # held-out loss every N steps (0: only at the end; -1: never)
    eval_samples: int = 32
    eval_seed: int = 1
    checkpoint_every: int = 0  # 0: only at the end
    keep_last: int = 2
    log_every: int = 1
    progress: bool | None = None  # None: a progress bar only on a terminal
    new_lr_scale: float = 1.0  # learning-rate multiplier for entries a growth step added
    freeze_inherited: bool = False  # train only the entries a growth step added
    grown_from: str | None = None  # parent folder of `model` ...
    grown_plan: str | None = None  # ... and the plan that grew it: which entries are new (for the two above)
    growth: tuple[GrowthStep, ...] = field(default_factory=tuple)
    hub: str | None = None  # for pointer:/hotkey: sources (default $SN29_HUB, else the directory hub)
    chain: str | None = None  # for hotkey: sources (default $SN29_CHAIN, else the embedded chain)

    def __post_init__(self) -> None:
        growth = tuple(g if isinstance(g, GrowthStep) else GrowthStep.from_dict(g) for g in self.growth)
        object.__setattr__(self, "growth", growth)  # accept plain mappings from Python callers too
        object.__setattr__(self, "betas", tuple(self.betas))

        def positive_int(name: str, allow_zero: bool = False) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
                raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} integer, "
                                 f"got {value!r}")

        for name in ("steps", "micro_batch_size", "seq_len", "grad_accum", "log_every", "keep_last",
                     "eval_samples"):
            positive_int(name)
        for name in ("warmup_steps", "checkpoint_every", "seed", "eval_seed"):
            positive_int(name, allow_zero=True)
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < -1:
            raise ValueError(f"eval_every must be an integer >= -1, got {self.eval_every!r}")
        for name, allowed in (("schedule", SCHEDULES), ("data", DATA_SOURCES), ("parallelism", PARALLELISM),
                              ("dtype", DTYPES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if not self.lr > 0 or not 0 <= self.min_lr_ratio <= 1 or not 0 < self.decay_fraction <= 1:
            raise ValueError("need lr > 0, 0 <= min_lr_ratio <= 1 and 0 < decay_fraction <= 1")
        if self.weight_decay < 0 or self.eps <= 0 or len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError("need weight_decay >= 0, eps > 0 and two betas in [0, 1)")
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be > 0 or None, got {self.grad_clip!r}")
        if self.stop_at is not None and (isinstance(self.stop_at, bool) or not isinstance(self.stop_at, int)
                                         or self.stop_at < 1):
            raise ValueError(f"stop_at must be a positive integer or None, got {self.stop_at!r}")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be a positive integer or None, got {self.threads!r}")
        if not self.new_lr_scale >= 0:
            raise ValueError(f"new_lr_scale must be >= 0, got {self.new_lr_scale!r}")
        if (self.grown_from is None) != (self.grown_plan is None):
            raise ValueError("grown_from and grown_plan go together (the parent folder and the plan that grew model)")
        if (self.freeze_inherited or self.new_lr_scale != 1.0) and self.grown_from is None and not self.growth:
            raise ValueError("freeze_inherited / new_lr_scale need to know the new entries: set grown_from and "
                             "grown_plan, or a growth schedule")
        tokens = [g.at_tokens for g in self.growth]
        if tokens != sorted(set(tokens)):
            raise ValueError(f"growth steps must have increasing at_tokens, got {tokens}")

    @property
    def tokens_per_step_per_rank(self) -> int:
        return self.micro_batch_size * self.seq_len * self.grad_accum

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown training key(s) {sorted(unknown)}; known: {sorted(known)}")
        if not isinstance(data.get("growth", ()), list | tuple):
            raise ValueError("growth must be a list of {at_tokens, plan}")
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path, **overrides: Any) -> TrainConfig:
        """JSON if the file parses as JSON, else YAML (safe loader); `overrides` win over the file."""
        data = read_mapping_file(path, "a training config")
        return cls.from_dict({**data, **overrides})

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["betas"] = list(self.betas)
        out["growth"] = [{"at_tokens": g.at_tokens, "plan": g.plan} for g in self.growth]
        return out

    def with_changes(self, **changes: Any) -> TrainConfig:
        return replace(self, **changes)
