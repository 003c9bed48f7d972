"""Growth during training, and which entries of a grown model are new.

The growth toolkit knows which entries a plan adds (`miner.growth.masks.new_entry_masks` on the plan
resolved against the parent's config); the training loop uses that for `new_lr_scale` and
`freeze_inherited`. A growth step of the schedule writes the child next to the checkpoints
(`growth-<k>/`, under a temporary name and renamed by `miner.growth.grow`), so a resumed run that
finds it skips the growing itself; the plan's seed makes the child the same either way.
"""

from __future__ import annotations

from pathlib import Path

import torch

from miner.growth import GrowthPlan, grow, resolve
from miner.growth.masks import new_entry_masks
from node.modeling import read_model_config


def new_entries(parent_dir: str | Path, plan: GrowthPlan, names: list[str]) -> dict[str, torch.Tensor]:
    """Bool masks, True where the child `plan` grows from `parent_dir` has entries the parent did not."""
    return new_entry_masks(resolve(plan, read_model_config(parent_dir)), names)


def grow_child(parent_dir: Path, out_dir: Path, index: int, plan_file: str) -> Path:
    """The child of growth step `index`: grown from `parent_dir` unless a previous run already did."""
    child = out_dir / f"growth-{index}"
    if not (child / "config.json").is_file():
        grow(parent_dir, child, GrowthPlan.from_file(plan_file), overwrite=True)
    return child
