"""`python -m miner train`: a config file and/or flags; flags win over the file. Argument parsing only."""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import fields
from typing import Any

from .config import TrainConfig

# Flags for the settings changed most often; any other key: `--set key=value` (value parsed as JSON, else text).
FLAGS: dict[str, type] = {
    "model": str, "out_dir": str, "steps": int, "micro_batch_size": int, "seq_len": int, "grad_accum": int,
    "lr": float, "warmup_steps": int, "schedule": str, "seed": int, "dtype": str, "parallelism": str,
    "device": str, "threads": int, "data": str, "tokenizer": str, "eval_every": int, "checkpoint_every": int,
    "keep_last": int, "grad_clip": float,
}


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a checkpoint (resumes the last complete checkpoint in --out-dir)",
                       description="Many processes: torchrun --nproc_per_node=N -m miner train ... "
                                   "(--parallelism ddp or fsdp).")
    p.add_argument("--config", help="YAML/JSON training config (keys: see miner/training/config.py)")
    for key, kind in FLAGS.items():
        p.add_argument("--" + key.replace("_", "-"), dest=key, type=kind)
    p.add_argument("--gradient-checkpointing", action="store_true", default=None)
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="any other config key")
    p.set_defaults(func=run_train)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    overrides: dict[str, Any] = {k: getattr(args, k) for k in [*FLAGS, "gradient_checkpointing", "progress"]
                                 if getattr(args, k) is not None}
    for item in args.set:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        try:
            overrides[key] = json.loads(text)
        except json.JSONDecodeError:
            overrides[key] = text
    if args.config:
        return TrainConfig.from_file(args.config, **overrides)
    missing = [f.name for f in fields(TrainConfig) if f.name in ("model", "out_dir") and f.name not in overrides]
    if missing:
        raise ValueError(f"give --config or --{' and --'.join(m.replace('_', '-') for m in missing)}")
    return TrainConfig.from_dict(overrides)


def run_train(args: argparse.Namespace) -> int:
    from .loop import train

    result = train(config_from_args(args))
    summary = {"step": result.step, "tokens": result.tokens, "checkpoint": str(result.checkpoint),
               "loss": result.losses[-1] if result.losses else None,
               "heldout_loss": result.heldout[-1][1] if result.heldout else None}
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one summary line (rank 0's)
        print(json.dumps(summary))
    return 0
