"""Task heads (sequence / token classification, question answering) on the patched base model.

Upstream builds each head's trunk with `AutoModel.from_config(config)`. That resolves to the patched
base model only because the family's package registered it for its config class, and only when the
config is the patched class; a head on a stock trunk silently ignores `norm_divisor` and, on reload,
drops the layers a `layer_map` reuses. This mixin makes both hold: the config is converted first
and the trunk's class is checked once it is built.
"""

from __future__ import annotations

from typing import Any

from .config import as_growable_config
from .modeling import GrowableModelMixin


class GrowableHeadMixin:
    """Goes in front of a family's upstream head class (`LlamaForSequenceClassification`, ...)."""

    config_class: type
    base_model_prefix: str

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(as_growable_config(config, self.config_class), *args, **kwargs)
        trunk = getattr(self, self.base_model_prefix)
        if not isinstance(trunk, GrowableModelMixin):
            raise TypeError(
                f"{type(self).__name__} was built on {type(trunk).__module__}.{type(trunk).__name__}, not the patched "
                f"base model; import the family package (it registers AutoModel for {self.config_class.__name__})"
            )
