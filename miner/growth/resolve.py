"""Resolve a plan against a parent config: child config, width placement, source of every child layer.

The result says, before a byte is written, exactly what the child will be and whether (and why
not) it computes the parent's function.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from node.lineage.placement import WidthDims, WidthPlacement

from .depth import PlacedSlot, assign_live
from .init import Strategy
from .plan import GrowthPlan
from .target import Target

PRECISION = {"float32": 3, "bfloat16": 1, "float16": 2}


@dataclass(frozen=True)
class LayerSource:
    """What one *stored* child layer is built from. `parent_stored` None: a fresh layer.

    `live`: carries the parent layer exactly (writers included). Otherwise readers are copied (or
    fresh) and writers follow the init strategy, unless `copy_writers`.
    """

    parent_stored: int | None
    live: bool
    copy_writers: bool = False


@dataclass
class ResolvedGrowth:
    plan: GrowthPlan
    family: str
    parent_config: dict[str, Any]
    child_config: dict[str, Any]
    width: WidthPlacement
    layers: list[LayerSource]
    dtype: str | None
    notes: list[str] = field(default_factory=list)  # why the child is not loss-preserving (empty: exact)
    warnings: list[str] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return not self.notes


def resolve(plan: GrowthPlan, parent_config: Any) -> ResolvedGrowth:
    """`parent_config`: the patched config object of the parent (see node.modeling.read_model_config)."""
    family = parent_config.model_type
    parent_dims = WidthDims.of(parent_config)
    target = Target.start(family, parent_dims, parent_config.num_hidden_layers)
    for op in plan.operators:
        op.apply(target)
    child_dims = target.finalize()
    width = WidthPlacement.between(parent_dims, child_dims)
    placed, notes = assign_live(target.slots, parent_config.num_hidden_layers)
    virtual = plan.layer_map if plan.layer_map is not None else parent_config.layer_map is not None
    if virtual:
        layers, layer_map, depth_notes = _virtual_layers(placed, parent_config)
    else:
        layers = [LayerSource(_stored(parent_config, s.source), s.live, s.copy_writers) for s in placed]
        layer_map, depth_notes = None, []
    notes += depth_notes
    warnings: list[str] = []
    if child_dims.vocab > parent_dims.vocab:
        notes.append(f"vocabulary grown {parent_dims.vocab} -> {child_dims.vocab}: new tokens get logit 0, "
                     "which takes probability mass from the old ones (loss rises; verify-growth measures it)")
    if plan.init == Strategy.NOISY and plan.noise > 0:
        notes.append(f"init noisy: new writers are random (std {plan.noise} x initializer_range)")
    if plan.init == Strategy.ZEROS:
        warnings.append("init zeros: new units are dead (zero readers), training will not move them")
    parent_dtype = _dtype_name(parent_config)
    if target.dtype and parent_dtype and PRECISION[target.dtype] < PRECISION.get(parent_dtype, 0):
        notes.append(f"dtype {parent_dtype} -> {target.dtype} rounds every weight")
    child_config = _child_config(parent_config, child_dims, len(placed), layer_map, target.dtype or parent_dtype)
    return ResolvedGrowth(plan, family, parent_config.to_dict(), child_config, width, layers, target.dtype,
                          notes, warnings)


def _stored(parent_config: Any, position: int | None) -> int | None:
    return None if position is None else parent_config.stored_layer_at(position)


def _virtual_layers(placed: list[PlacedSlot], parent_config: Any) -> tuple[list[LayerSource], list[int] | None,
                                                                            list[str]]:
    """Each parent stored layer stored once, fresh layers appended; positions refer to them by index."""
    used = sorted({_stored(parent_config, s.source) for s in placed if s.source is not None})
    index_of = {stored: i for i, stored in enumerate(used)}
    layers = [LayerSource(stored, live=True) for stored in used]
    layer_map: list[int] = []
    for slot in placed:
        if slot.source is None:
            layer_map.append(len(layers))
            layers.append(LayerSource(None, live=False))
        else:
            layer_map.append(index_of[_stored(parent_config, slot.source)])
    tied = [i for i, s in enumerate(placed) if s.source is not None and not s.live]
    notes = [f"layer_map: positions {tied[:8]} re-run tied trained layers (their writers cannot be zeroed)"] if tied \
        else []
    identity = layer_map == list(range(len(layer_map)))
    return layers, None if identity else layer_map, notes


def _dtype_name(config: Any) -> str | None:
    value = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None)
    name = str(value).removeprefix("torch.") if value is not None else None
    return name if name in PRECISION else None


def _child_config(parent_config: Any, dims: WidthDims, positions: int, layer_map: list[int] | None,
                  dtype: str | None) -> dict[str, Any]:
    config = parent_config.to_dict()
    parent_hidden = parent_config.hidden_size
    config.update(
        hidden_size=dims.hidden,
        intermediate_size=dims.intermediate,
        num_attention_heads=dims.heads,
        num_key_value_heads=dims.kv_heads,
        vocab_size=dims.vocab,
        num_hidden_layers=positions,
        layer_map=layer_map,
        norm_divisor=parent_config.norm_divisor if parent_config.norm_divisor is not None else parent_hidden,
    )
    if "head_dim" in config or config.get("model_type") == "llama":
        config["head_dim"] = dims.head_dim
    if dtype:
        config["dtype"] = dtype
    config.pop("torch_dtype", None)
    return config
