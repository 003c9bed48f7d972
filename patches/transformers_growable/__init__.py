"""What the patched Llama and Phi3 share: the `norm_divisor` RMSNorm, layer-mapped and sliced execution,
task heads on the patched trunk, slice loading from safetensors shards, and export back to stock transformers.

Families subclass their transformers 5 classes and mix these in (see `transformers_llama/modeling.py`).
"""

from .config import GrowableConfigMixin, as_growable_config
from .heads import GrowableHeadMixin
from .modeling import GrowableCausalLMMixin, GrowableModelMixin, resolve_layer_range
from .norm import DivisorRMSNormMixin
from .slice_loading import SliceLoadingMixin
from .stock_export import export_to_stock

__all__ = [
    "DivisorRMSNormMixin",
    "GrowableCausalLMMixin",
    "GrowableConfigMixin",
    "GrowableHeadMixin",
    "GrowableModelMixin",
    "SliceLoadingMixin",
    "as_growable_config",
    "export_to_stock",
    "resolve_layer_range",
]
