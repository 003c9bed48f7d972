"""The arms of the virtual-layers experiment: a grown model in one of two forms with adapters of one kind.

Forms (both built by the growth toolkit from the same small checkpoint, duplicates keeping their trained
writers, so both compute the same function before any adapter training):

* `virtual`: duplicated layers stored once and re-run (`config.layer_map`);
* `copied`: every position a real layer of its own.

Adapters (`ADAPTERS`): `pos-lora` / `pos-ia3` are ours (`position_adapters`: one adapter per executed
position; on a copied model that is one per layer, i.e. standard LoRA/IA3); `peft-lora` / `peft-ia3` are
peft's (one adapter per stored module: per position on a copied model, shared across the positions of a tied
layer on a virtual one). peft's LoRA A is overwritten with `lora_a_init` of the (first) position it serves,
so `virtual + pos-lora` and `copied + peft-lora` start from identical adapters.

Memory is counted from tensors, not sampled from the process: stored parameter bytes (each tensor once,
shared ones once), adapter training state (gradient + AdamW's two moments per trainable parameter), and
the activation bytes autograd saves for backward in one training step (`saved_activation_bytes`, distinct
storages). On CUDA the experiment also reports `torch.cuda.max_memory_allocated` over the training run.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from miner.growth import GrowthPlan, Interpolate, Stack, grow
from node.modeling.load import load_model_for_eval

from .position_adapters import IA3_ON_INPUT, IA3_TARGETS, LORA_TARGETS, attach_position_adapters, lora_a_init

FORMS = ("virtual", "copied")
ADAPTERS = ("none", "pos-lora", "pos-ia3", "peft-lora", "peft-ia3")
GROWTHS = {"stack": Stack, "interpolate": Interpolate}


def grow_both(base: nn.Module, times: int, growth: str, work_dir: Path) -> dict[str, Path]:
    """Save `base` and grow it `times`-fold in depth both ways; form -> checkpoint folder."""
    if growth not in GROWTHS:
        raise ValueError(f"growth must be one of {sorted(GROWTHS)}, got {growth!r}")
    if times < 2:
        raise ValueError(f"growth times must be >= 2 (1 adds no layers), got {times}")
    parent = work_dir / "base"
    base.save_pretrained(parent, safe_serialization=True)
    out = {}
    for form in FORMS:
        plan = GrowthPlan([GROWTHS[growth](times, copy_writers=True)], layer_map=form == "virtual")
        out[form] = grow(parent, work_dir / form, plan, overwrite=True).child_dir
    return out


def load_form(path: Path) -> nn.Module:
    """A grown checkpoint through the node's own loader (gate, patched class), fp32, in train-ready form."""
    return load_model_for_eval(path, dtype=torch.float32)


@dataclass(frozen=True)
class AdapterSpec:
    rank: int = 8
    alpha: float = 16.0
    lora_targets: tuple[str, ...] = LORA_TARGETS
    ia3_targets: tuple[str, ...] = IA3_TARGETS
    seed: int = 0


def attach(model: nn.Module, adapter: str, spec: AdapterSpec) -> list[nn.Parameter]:
    """Freeze `model`, install `adapter` in place, return the parameters to train ([] for `none`)."""
    if adapter not in ADAPTERS:
        raise ValueError(f"adapter must be one of {ADAPTERS}, got {adapter!r}")
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if adapter == "none":
        return []
    if adapter.startswith("pos-"):
        kind = adapter.removeprefix("pos-")
        targets = spec.lora_targets if kind == "lora" else spec.ia3_targets
        return list(attach_position_adapters(model, kind, targets=targets, rank=spec.rank, alpha=spec.alpha,
                                             seed=spec.seed).parameters())
    return _attach_peft(model, adapter.removeprefix("peft-"), spec)


def _attach_peft(model: nn.Module, kind: str, spec: AdapterSpec) -> list[nn.Parameter]:
    from peft import IA3Config, LoraConfig, inject_adapter_in_model

    if kind == "lora":
        config = LoraConfig(r=spec.rank, lora_alpha=spec.alpha, lora_dropout=0.0,
                            target_modules=list(spec.lora_targets))
    else:
        config = IA3Config(target_modules=list(spec.ia3_targets),
                           feedforward_modules=[t for t in spec.ia3_targets if t in IA3_ON_INPUT])
    inject_adapter_in_model(config, model)
    if kind == "lora":
        _same_lora_start(model, spec)
    marker = "lora_" if kind == "lora" else "ia3_l"
    params = [p for name, p in model.named_parameters() if marker in name]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in params:
        parameter.requires_grad_(True)
    return params


def _same_lora_start(model: nn.Module, spec: AdapterSpec) -> None:
    """Give each peft LoRA A the start `lora_a_init` gives our adapter at the first position of its layer."""
    config = model.config
    first = {}
    for position in range(config.num_hidden_layers):
        first.setdefault(config.stored_layer_at(position), position)
    for stored, layer in enumerate(model.model.layers):
        for name, module in layer.named_modules():
            lora_a = getattr(module, "lora_A", None)
            if isinstance(lora_a, nn.ModuleDict) and "default" in lora_a:
                weight = lora_a["default"].weight
                with torch.no_grad():
                    weight.copy_(lora_a_init(spec.seed, first[stored], name, spec.rank, weight.shape[1]))


def stored_parameters(model: nn.Module) -> int:
    """Parameters held in memory, each tensor once (a tied layer counts once)."""
    seen: dict[int, int] = {}
    for parameter in model.parameters():
        seen.setdefault(id(parameter), parameter.numel())
    return sum(seen.values())


def stored_bytes(model: nn.Module) -> int:
    seen: dict[int, int] = {}
    for parameter in model.parameters():
        seen.setdefault(id(parameter), parameter.numel() * parameter.element_size())
    return sum(seen.values())


def training_state_bytes(params: list[nn.Parameter]) -> int:
    """Gradient plus AdamW's two moments for each trainable parameter (the optimizer keeps fp32 moments)."""
    return sum(p.numel() * (p.element_size() + 8) for p in params)


def saved_activation_bytes(model: nn.Module, batch: torch.Tensor, params: list[nn.Parameter]) -> int:
    """Bytes of the distinct tensors autograd saves for backward in one training forward of `batch`
    ([rows, seq + 1] token ids), parameters left out (they are held anyway); 0 when nothing is trained."""
    if not params:
        return 0
    held = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in held:
            storages.setdefault(storage.data_ptr(), storage.nbytes())
        return tensor

    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = model(input_ids=batch[:, :-1]).logits
        loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
    loss.backward()
    for parameter in params:
        parameter.grad = None
    model.eval()
    return sum(storages.values())


def scratch_dir(out_dir: Path) -> tempfile.TemporaryDirectory:
    """Where the grown checkpoints go while the experiment runs (removed afterwards)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="checkpoints-", dir=out_dir)
