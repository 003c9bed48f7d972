"""Models that run a trained model's layers in another order: weight-tied through `config.layer_map` (nothing
copied: one stored layer executes at every position that names it) or materialised (each position its own copy).

Why both: scoring a map needs no copy at all (the patched models read `layer_map` at every forward, so a map is a
config change on the loaded model); training is different, because a tied layer gets the gradients of all its
positions and stays one function, while copies are what a miner publishes after a plain depth growth and can
diverge. The experiment scores maps tied and trains copies (and, for comparison, the best map tied).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch


def stored_layers(model: torch.nn.Module) -> int:
    return len(model.model.layers)


def check_map(model: torch.nn.Module, layers: Sequence[int]) -> list[int]:
    """`layers` as a list, refused (ValueError) unless every entry names a stored layer and every stored layer runs
    (the patched config's own rule: a checkpoint must not carry dead weights)."""
    layers = [int(i) for i in layers]
    n = stored_layers(model)
    if not layers or min(layers) < 0 or max(layers) >= n:
        raise ValueError(f"a layer map of this model must name stored layers 0..{n - 1}, got {layers}")
    missing = sorted(set(range(n)) - set(layers))
    if missing:
        raise ValueError(f"layer map {layers} never runs stored layer(s) {missing}")
    return layers


def _set_map(model: torch.nn.Module, layers: list[int] | None, positions: int) -> None:
    model.config.layer_map = layers
    model.config.num_hidden_layers = positions
    model.config.validate_layer_map()


@contextmanager
def mapped(model: torch.nn.Module, layers: Sequence[int]) -> Iterator[torch.nn.Module]:
    """`model` executing `layers` (tied, no copies) inside the block; its own config is restored afterwards."""
    layers = check_map(model, layers)
    saved = model.config.layer_map, model.config.num_hidden_layers
    _set_map(model, layers, len(layers))
    try:
        yield model
    finally:
        model.config.layer_map, model.config.num_hidden_layers = saved


def tied_copy(model: torch.nn.Module, layers: Sequence[int]) -> torch.nn.Module:
    """An independent model (for training) whose positions share the stored layers of a copy of `model`."""
    layers = check_map(model, layers)
    out = copy.deepcopy(model)
    _set_map(out, layers, len(layers))
    return out


def materialised_copy(model: torch.nn.Module, layers: Sequence[int]) -> torch.nn.Module:
    """An independent model with one copied layer per position of `layers` and no layer map (plain depth)."""
    layers = check_map(model, layers)
    source = model.model.layers
    model.model.layers = torch.nn.ModuleList()  # not deep-copied with the rest
    try:
        out = copy.deepcopy(model)
    finally:
        model.model.layers = source
    out.model.layers = torch.nn.ModuleList(copy.deepcopy(source[i]) for i in layers)
    for position, layer in enumerate(out.model.layers):
        layer.self_attn.layer_idx = position  # the KV-cache slot of that position
    _set_map(out, None, len(layers))
    return out
