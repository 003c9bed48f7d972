"""Loss-preserving model growth for Llama/Phi3 checkpoints (see README in this folder's docstrings).

Python use::

    from miner.growth import GrowthPlan, Hidden, Stack, grow
    report = grow("parent/", "child/", GrowthPlan([Hidden(1152), Stack(2)], seed=1))

Verification lives in `node.lineage` (validators certify lineage with the same code).
"""

from .grow import DEFAULT_SHARD_BYTES, GrowthReport, grow
from .init import Initializer, Strategy
from .layer_spec import LayerSpecError, format_layer_spec, parse_layer_spec
from .operators import (
    REGISTRY,
    Dtype,
    Heads,
    Hidden,
    Insert,
    Intermediate,
    Interpolate,
    Layers,
    NumLayers,
    Operator,
    Stack,
    Vocab,
    operator_from_dict,
    register,
)
from .plan import GrowthPlan
from .resolve import LayerSource, ResolvedGrowth, resolve

__all__ = [
    "DEFAULT_SHARD_BYTES",
    "REGISTRY",
    "Dtype",
    "GrowthPlan",
    "GrowthReport",
    "Heads",
    "Hidden",
    "Initializer",
    "Insert",
    "Intermediate",
    "Interpolate",
    "LayerSource",
    "LayerSpecError",
    "Layers",
    "NumLayers",
    "Operator",
    "ResolvedGrowth",
    "Stack",
    "Strategy",
    "Vocab",
    "format_layer_spec",
    "grow",
    "operator_from_dict",
    "parse_layer_spec",
    "register",
    "resolve",
]
