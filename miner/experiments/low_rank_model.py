"""The `low-rank` experiment's model variant: a tiny patched Llama whose attention and/or MLP matrices are
replaced, after construction, by two factors `up @ down` of rank r (seed 003's "low rank substitution").

This variant exists only inside the experiment. It is not a patched architecture, no validator accepts it, and it
is never saved: `save_pretrained` on a factorised model raises; a folder written around that (its state dict as
safetensors with its config) is refused by the validator's gate for its architecture label, and relabelled as a
plain `LlamaForCausalLM` still refused because `q_proj.down.weight` and friends are not tensors of any accepted
architecture (tests check all three).

`lab.matmul_parameters` counts every `nn.Linear` weight, so the two factor Linears are counted as they run:
`(in + out) x r` per matrix instead of `in x out`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
PARTS = {"all": ATTENTION + MLP, "attention": ATTENTION, "mlp": MLP}
SCHEDULES = ("constant", "increasing", "decreasing")
NOT_AN_ARCHITECTURE = "LowRankExperimentLlama"  # the factorised model's label: in no competition's model_types


class LowRankLinear(nn.Module):
    """`x -> up(down(x))` with `down: in -> rank` and `up: rank -> out`, standing in for one `nn.Linear`.

    Initialised so the product has the output scale of the full matrix's N(0, std) init (what the model's
    `initializer_range` gives a plain Linear): down ~ N(0, 1/in), up ~ N(0, std^2 in / rank), so each output
    of `up(down(x))` has variance std^2 x in x E[x^2], as for the full matrix.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, *, bias: bool = False, std: float = 0.02,
                 generator: torch.Generator | None = None) -> None:
        super().__init__()
        if not 1 <= rank:
            raise ValueError(f"rank must be >= 1, got {rank}")
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features, bias=bias)
        with torch.no_grad():
            self.down.weight.normal_(0.0, 1.0 / math.sqrt(in_features), generator=generator)
            self.up.weight.normal_(0.0, std * math.sqrt(in_features / rank), generator=generator)
            if bias:
                self.up.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}"


def rank_schedule(kind: str, rank: int, layers: int) -> list[int]:
    """Per-layer ranks with mean `rank`: constant, or a linear ramp from rank/2 to 3 rank/2 up or down the stack
    (seed 003's increasing / decreasing ranks at an equal parameter budget)."""
    if kind not in SCHEDULES:
        raise ValueError(f"unknown rank schedule {kind!r}; known: {list(SCHEDULES)}")
    if rank < 1 or layers < 1:
        raise ValueError(f"rank and layers must be >= 1, got {rank}, {layers}")
    if kind == "constant" or layers == 1:
        return [rank] * layers
    ramp = [max(1, round(rank * (0.5 + i / (layers - 1)))) for i in range(layers)]
    return ramp if kind == "increasing" else ramp[::-1]


def _refuse_save(*_args, **_kwargs):
    raise TypeError("a low-rank experiment model is not an architecture any validator accepts; it is never saved")


def factorise(model: nn.Module, ranks: Sequence[int], part: str = "all", seed: int = 0) -> nn.Module:
    """Replace, in place, the `part` matrices ("all", "attention", "mlp") of layer i by rank-`ranks[i]` factors
    (capped at the matrix's full rank), freshly initialised from `seed`; the model can no longer be saved."""
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}; known: {list(PARTS)}")
    layers = model.model.layers
    if len(ranks) != len(layers):
        raise ValueError(f"{len(ranks)} ranks for {len(layers)} layers")
    generator = torch.Generator().manual_seed(seed)
    std = float(model.config.initializer_range)
    for layer, rank in zip(layers, ranks, strict=True):
        for name in PARTS[part]:
            owner = layer.self_attn if name in ATTENTION else layer.mlp
            full: nn.Linear = getattr(owner, name)
            factor = LowRankLinear(full.in_features, full.out_features, min(int(rank), full.in_features,
                                   full.out_features), bias=full.bias is not None, std=std, generator=generator)
            setattr(owner, name, factor.to(full.weight.device, full.weight.dtype))
    model.save_pretrained = _refuse_save
    model.config.architectures = [NOT_AN_ARCHITECTURE]
    return model


def layer_ranks(model: nn.Module) -> list[dict[str, int]]:
    """The rank of every matrix of every layer (full ones at min(in, out)), for the record."""
    out = []
    for layer in model.model.layers:
        ranks = {}
        for name in ATTENTION + MLP:
            module = getattr(layer.self_attn if name in ATTENTION else layer.mlp, name)
            ranks[name] = module.rank if isinstance(module, LowRankLinear) else min(module.in_features,
                                                                                   module.out_features)
        out.append(ranks)
    return out
