"""Which entries of each child tensor are new: for training a grown model (per-block learning rates,
freezing the inherited weights, or checking that gradients reach every new block)."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from node.lineage.roles import parse_name

from .build import build_tensor
from .resolve import ResolvedGrowth


def new_entry_masks(resolved: ResolvedGrowth, names: Iterable[str]) -> dict[str, torch.Tensor]:
    """Bool mask per child tensor name (e.g. from `model.named_parameters()`): True where new.

    A layer that is not a live copy of a parent layer (a stacked duplicate or a fresh layer) is new
    as a whole, even where its readers were copied.
    """
    masks = {}
    for name in names:
        parsed = parse_name(name)
        maps = resolved.width.maps_for(parsed.role.axes)
        shape = [len(m) for m in maps]
        if parsed.layer is not None and not resolved.layers[parsed.layer].live:
            masks[name] = torch.ones(shape, dtype=torch.bool)
            continue
        old = torch.zeros([m.parent_size for m in maps], dtype=torch.bool)
        masks[name] = build_tensor(old, maps, lambda view, region: view.fill_(True), torch.bool)
    return masks
