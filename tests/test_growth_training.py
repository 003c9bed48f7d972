"""After exact growth, training moves every new block and lowers the loss below the parent's.

With zero writers, a new unit's readers get no gradient on the first step (their output is
multiplied by a zero writer), but the writers do (random readers give non-zero activations); once
the writers move, the readers follow. So gradients are collected over a few optimiser steps.
"""

from __future__ import annotations

import torch

from miner.growth import GrowthPlan, Hidden, Insert, Intermediate, grow, resolve
from miner.growth.masks import new_entry_masks
from node.modeling import load_model_for_eval, read_model_config
from tiny_models import random_ids, tiny_model

STEPS = 6


def batch_loss(model, ids: torch.Tensor) -> torch.Tensor:
    return model(input_ids=ids, labels=ids).loss


def test_new_blocks_get_gradient_and_loss_falls(tmp_path):
    parent_dir = tmp_path / "parent"
    tiny_model("llama").save_pretrained(parent_dir)
    plan = GrowthPlan([Hidden(96), Intermediate(192), Insert(after=[1], source="previous"),
                       Insert(after=[3], source="fresh")], seed=11)
    grow(parent_dir, tmp_path / "child", plan)
    resolved = resolve(plan, read_model_config(parent_dir))
    ids = random_ids(96, batch=4, length=32, seed=3)
    parent = load_model_for_eval(parent_dir)
    with torch.no_grad():
        parent_loss = batch_loss(parent, ids).item()
    child = load_model_for_eval(tmp_path / "child").train()
    masks = new_entry_masks(resolved, [n for n, _ in child.named_parameters()])
    seen = {name: torch.zeros_like(mask) for name, mask in masks.items()}
    optimiser = torch.optim.Adam(child.parameters(), lr=1e-3)
    losses = []
    for _ in range(STEPS):
        optimiser.zero_grad()
        loss = batch_loss(child, ids)
        loss.backward()
        losses.append(loss.item())
        for name, param in child.named_parameters():
            seen[name] |= param.grad != 0
        optimiser.step()
    assert abs(losses[0] - parent_loss) < 1e-6  # growth itself changed nothing
    dead = []
    for name, mask in masks.items():
        if not mask.any():
            continue
        # each new region of each tensor: new rows, and new columns of old rows
        regions = [mask] if mask.all() or mask.dim() == 1 else [mask & mask.all(dim=1, keepdim=True),
                                                                mask & ~mask.all(dim=1, keepdim=True)]
        for region in regions:
            if region.any() and not seen[name][region].any():
                dead.append(name)
    assert not dead, f"new blocks that never got a gradient: {dead}"
    with torch.no_grad():
        final = batch_loss(child.eval(), ids).item()
    assert final < parent_loss, (final, parent_loss)
    assert len(resolved.layers) == 6 and [s.live for s in resolved.layers].count(False) == 2


def test_zeros_init_leaves_new_units_dead(tmp_path):
    """The contrast that motivates `exact`: naive zero padding gives new MLP units no gradient at all."""
    parent_dir = tmp_path / "parent"
    tiny_model("llama").save_pretrained(parent_dir)
    plan = GrowthPlan([Intermediate(192)], init="zeros")
    grow(parent_dir, tmp_path / "child", plan)
    child = load_model_for_eval(tmp_path / "child").train()
    batch_loss(child, random_ids(96, batch=2, length=16)).backward()
    down = child.model.layers[0].mlp.down_proj.weight.grad
    assert down[:, :128].abs().sum() > 0 and down[:, 128:].abs().sum() == 0
