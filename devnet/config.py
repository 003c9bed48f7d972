"""How big a devnet run is: one frozen dataclass, two presets (`FULL`, the README's run, and `QUICK`, the tests').

Sizes were chosen by measurement on the 2-core development machine (SmolLM2-135M grown to 32 layers, fp32 on
CPU): training runs at ~9.7 s per step of 4 x 128 tokens on an idle machine (~53 tokens/s; 4-8x slower while
other jobs share the cores), evaluation at roughly 300-500 tokens/s, a held-out sample is a few hundred tokens.
Twelve steps at 1.5e-4 lower the held-out loss by several hundredths of a nat (the quick run's 6 steps at 2e-4:
-0.044; 24 steps at 1e-4: -0.108), enough for the trained model to win most samples.
The full run spends most of its time training and evaluating; the quick run keeps every phase
with a handful of samples and steps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class DevnetConfig:
    """Everything a devnet run is sized by (the phases and their order are fixed in `devnet.story`)."""

    train_steps: int = 12  # optimiser steps of the trainer (most of a run's time: ~2 min idle)
    micro_batch_size: int = 4
    seq_len: int = 128
    lr: float = 1.5e-4  # fine-tuning an already trained model: a small rate moves the loss without breaking it
    warmup_steps: int = 2
    train_eval_samples: int = 8  # the trainer's own held-out check at the end
    verify_samples: int = 4  # held-out samples `verify-growth` compares parent and child on
    verify_max_tokens: int = 128
    publish_samples: int = 4  # held-out samples each `publish` compares the model with the current best on
    round_samples: int = 12  # samples per validator round
    interval_blocks: int = 10  # a round every this many blocks (the clock is moved by the orchestrator)
    rounds_after_publish: int = 2  # rounds once every miner has published (the first round has the seed only)
    trainer_extra_layers: int = 2  # the trainer inserts this many identity layers (SmolLM2: 30 -> 32)
    grower_mlp_scale: float = 4 / 3  # the grower widens the MLP by this factor (SmolLM2: 1536 -> 2048)
    eval_timeout_s: float = 900.0
    stop_timeout_s: float = 20.0  # how long a child gets after SIGTERM before SIGKILL

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ValueError(f"devnet setting {f.name} must be a positive number, got {value!r}")
        if self.warmup_steps >= self.train_steps:
            raise ValueError("devnet setting warmup_steps must be below train_steps")

    def with_settings(self, pairs: list[str]) -> DevnetConfig:
        """A copy with `KEY=VALUE` pairs (`--set`), each value converted to the field's type."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        changes: dict[str, object] = {}
        for pair in pairs:
            key, sep, text = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in types:
                raise ValueError(f"bad --set {pair!r}: expected KEY=VALUE with KEY one of {', '.join(types)}")
            try:
                changes[key] = int(text) if types[key] == "int" else float(text)
            except ValueError:
                raise ValueError(f"bad --set {pair!r}: {text!r} is not a valid {types[key]}") from None
        return self.replace(**changes)

    def replace(self, **changes: object) -> DevnetConfig:
        """A copy with `changes`; an unknown key is an error (no silent fallback to a default)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown devnet setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


FULL = DevnetConfig()
QUICK = DevnetConfig(train_steps=6, warmup_steps=1, lr=2e-4, train_eval_samples=2, verify_samples=2,
                     verify_max_tokens=64, publish_samples=2, round_samples=4)
