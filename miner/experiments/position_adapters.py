"""Adapters per executed position around shared (weight-tied) layers: LoRA and IA3.

Why not peft: on a `layer_map` model the patched base model stores each tied layer once and runs that one
module at several positions (`GrowableModelMixin.forward`: `self.layers[config.stored_layer_at(position)]`),
so peft, which wraps modules, attaches one adapter per *stored* layer and every position that reruns the
layer shares it. Here each wrapped projection holds one adapter per position that executes it, and a
`PositionCursor` says which position is running: a forward pre-hook on the base model reads where the slice
starts (`layer_range`, default 0) and a pre-hook on every stored layer advances one position per call,
checking that the layer called is the one the map puts there. The shared weights are never copied: the
wrapper keeps the original `nn.Linear` (frozen) and adds only the small per-position tensors.

Start is function-preserving: LoRA's B is zero and IA3's vectors are one. LoRA's A is drawn as peft draws it
(Kaiming uniform, a = sqrt 5, i.e. U(-1/sqrt(in), 1/sqrt(in))), but from a generator seeded by (seed,
position, projection) (`lora_a_init`), so a peft adapter on a copied layer can be given the very same start.

Limits: the cursor follows the forward order of the layer loop, so activation (gradient) checkpointing, whose
backward reruns layers, is refused. The cursor's state is per thread: the validator's loss routine runs
batches on several CPU threads at once through the same model, each forward in its own thread.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from transformers_growable.modeling import resolve_layer_range

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IA3_TARGETS = ("k_proj", "v_proj", "down_proj")  # peft's Llama default; down_proj scales its input
IA3_ON_INPUT = ("down_proj",)
ADAPTER_KINDS = ("lora", "ia3")


class PositionCursor:
    """Which executed position of `model` is running now (None outside a forward)."""

    def __init__(self, model: nn.Module) -> None:
        base = model.model
        self.config = model.config
        self._state = threading.local()  # position, next, stop of the forward running in this thread
        self._handles = [base.register_forward_pre_hook(self._start, with_kwargs=True),
                         base.register_forward_hook(self._end)]
        for stored, layer in enumerate(base.layers):
            self._handles.append(layer.register_forward_pre_hook(self._layer_hook(stored)))

    def positions_of(self, stored: int) -> list[int]:
        """The executed positions that run stored layer `stored`."""
        return [p for p in range(self.config.num_hidden_layers) if self.config.stored_layer_at(p) == stored]

    @property
    def position(self) -> int | None:
        return getattr(self._state, "position", None)

    def _start(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        state = self._state
        state.next, state.stop = resolve_layer_range(self.config, kwargs.get("layer_range"))
        state.position = None

    def _end(self, module: nn.Module, args: tuple, output: object) -> None:
        self._state.position = None

    def _layer_hook(self, stored: int):
        def hook(module: nn.Module, args: tuple) -> None:
            state = self._state
            position, stop = getattr(state, "next", 0), getattr(state, "stop", 0)
            if position >= stop or self.config.stored_layer_at(position) != stored:
                raise RuntimeError(
                    f"stored layer {stored} ran out of the layer map's order (expected position {position} of "
                    f"[.., {stop})); position adapters need plain forwards of the base model, no activation "
                    "checkpointing")
            state.position = position
            state.next = position + 1
        return hook

    def current(self) -> int:
        position = self.position
        if position is None:
            raise RuntimeError("a position adapter ran outside the model's layer loop")
        return position

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def _seed_for(seed: int, position: int, name: str) -> int:
    digest = hashlib.sha256(f"{seed}/{position}/{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def lora_a_init(seed: int, position: int, name: str, rank: int, in_features: int) -> torch.Tensor:
    """The start of LoRA's A for projection `name` (e.g. `self_attn.q_proj`) at `position`: peft's rule
    (Kaiming uniform with a = sqrt 5 = U(-1/sqrt(in), 1/sqrt(in))) from a generator seeded by all three."""
    generator = torch.Generator().manual_seed(_seed_for(seed, position, name))
    bound = 1.0 / math.sqrt(in_features)
    return (torch.rand(rank, in_features, generator=generator) * 2 - 1) * bound


class PositionLoRALinear(nn.Module):
    """`base(x) + scaling * B_p A_p x` with (A_p, B_p) of the running position p; `base` stays shared."""

    def __init__(self, base: nn.Linear, name: str, positions: Sequence[int], cursor: PositionCursor, *,
                 rank: int, alpha: float, seed: int) -> None:
        super().__init__()
        self.base = base
        self.cursor = cursor
        self.scaling = alpha / rank
        weight = base.weight
        self.lora_A = nn.ParameterDict({
            str(p): nn.Parameter(lora_a_init(seed, p, name, rank, base.in_features).to(weight.device, weight.dtype))
            for p in positions})
        self.lora_B = nn.ParameterDict({
            str(p): nn.Parameter(torch.zeros(base.out_features, rank, device=weight.device, dtype=weight.dtype))
            for p in positions})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        key = str(self.cursor.current())
        a, b = self.lora_A[key], self.lora_B[key]
        return self.base(x) + nn.functional.linear(nn.functional.linear(x, a.to(x.dtype)), b.to(x.dtype)) * self.scaling


class PositionIA3Linear(nn.Module):
    """IA3 per position: `base(x) * l_p` (attention keys and values) or `base(x * l_p)` (MLP down_proj)."""

    def __init__(self, base: nn.Linear, positions: Sequence[int], cursor: PositionCursor, *, on_input: bool) -> None:
        super().__init__()
        self.base = base
        self.cursor = cursor
        self.on_input = on_input
        size = base.in_features if on_input else base.out_features
        weight = base.weight
        self.ia3_l = nn.ParameterDict({
            str(p): nn.Parameter(torch.ones(size, device=weight.device, dtype=weight.dtype)) for p in positions})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.ia3_l[str(self.cursor.current())].to(x.dtype)
        return self.base(x * scale) if self.on_input else self.base(x) * scale


@dataclass
class PositionAdapters:
    """What `attach_position_adapters` installed: the cursor, the wrapped projections, their parameters."""

    cursor: PositionCursor
    modules: dict[str, nn.Module] = field(default_factory=dict)  # "layers.{stored}.{projection}" -> wrapper

    def parameters(self) -> Iterator[nn.Parameter]:
        for module in self.modules.values():
            for name, parameter in module.named_parameters():
                if not name.startswith("base."):
                    yield parameter

    def count(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def adapter_at(self, stored: int, projection: str, position: int) -> dict[str, torch.Tensor]:
        """The adapter tensors of `projection` (e.g. `self_attn.q_proj`) at `position` (stored layer `stored`)."""
        module = self.modules[f"layers.{stored}.{projection}"]
        names = ("lora_A", "lora_B") if isinstance(module, PositionLoRALinear) else ("ia3_l",)
        return {n: getattr(module, n)[str(position)] for n in names}


def attach_position_adapters(model: nn.Module, kind: str = "lora", *, targets: Sequence[str] | None = None,
                             rank: int = 8, alpha: float = 16.0, seed: int = 0) -> PositionAdapters:
    """Wrap the `targets` projections (short names, e.g. `q_proj`) of every stored layer of a patched
    causal LM with one adapter per executed position, freeze everything else, return the handle."""
    if kind not in ADAPTER_KINDS:
        raise ValueError(f"adapter kind must be one of {ADAPTER_KINDS}, got {kind!r}")
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    if any(getattr(m, "gradient_checkpointing", False) for m in model.modules()):
        raise ValueError("position adapters cannot follow positions under activation checkpointing")
    targets = tuple(targets or (LORA_TARGETS if kind == "lora" else IA3_TARGETS))
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    cursor = PositionCursor(model)
    adapters = PositionAdapters(cursor)
    for stored, layer in enumerate(model.model.layers):
        positions = cursor.positions_of(stored)
        for block_name, block in layer.named_children():
            for short in targets:
                base = getattr(block, short, None)
                if not isinstance(base, nn.Linear):
                    continue
                name = f"{block_name}.{short}"
                if kind == "lora":
                    wrapper = PositionLoRALinear(base, name, positions, cursor, rank=rank, alpha=alpha, seed=seed)
                else:
                    wrapper = PositionIA3Linear(base, positions, cursor, on_input=short in IA3_ON_INPUT)
                setattr(block, short, wrapper)
                adapters.modules[f"layers.{stored}.{name}"] = wrapper
    if not adapters.modules:
        raise ValueError(f"no projection named {targets} in the model's layers")
    return adapters
