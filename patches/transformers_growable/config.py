"""Config rules shared by the patched Llama and Phi3 configs.

Two optional keys extend the upstream configs:

* `norm_divisor`: RMSNorm divides the sum of squares by this instead of the hidden size. Frozen at
  the old hidden size when a model grows wider, it keeps the loss exactly unchanged.
* `layer_map`: for each executed layer position, the index of the stored layer that runs there
  (weight-tied "virtual" depth). `num_hidden_layers` counts executed positions, so caches, masks and
  generation size themselves correctly; the checkpoint stores `max(layer_map) + 1` layers.

The dataclass fields themselves are declared on each concrete config (dataclass fields cannot come
from a plain mixin); this mixin holds the `validate_*` methods that `@strict` runs and the helpers.
"""

from __future__ import annotations

import math


class GrowableConfigMixin:
    norm_divisor: int | float | None
    layer_map: list[int] | None
    hidden_size: int
    num_hidden_layers: int

    def validate_norm_divisor(self) -> None:
        value = self.norm_divisor
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"norm_divisor must be a positive number, got {value!r} ({type(value).__name__})")
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"norm_divisor must be a positive finite number, got {value!r}")

    def validate_layer_map(self) -> None:
        layer_map = self.layer_map
        if layer_map is None:
            return
        if not isinstance(layer_map, list | tuple) or not layer_map:
            raise ValueError(f"layer_map must be a non-empty list of stored layer indices, got {layer_map!r}")
        if any(isinstance(i, bool) or not isinstance(i, int) for i in layer_map):
            raise ValueError(f"layer_map entries must be integers, got {layer_map!r}")
        if len(layer_map) != self.num_hidden_layers:
            raise ValueError(
                f"layer_map has {len(layer_map)} positions but num_hidden_layers is {self.num_hidden_layers}; "
                "num_hidden_layers counts executed positions when a layer_map is set"
            )
        if min(layer_map) < 0:
            raise ValueError(f"layer_map entries must be >= 0, got {layer_map!r}")
        unused = sorted(set(range(max(layer_map) + 1)) - set(layer_map))
        if unused:
            raise ValueError(
                f"layer_map never runs stored layer(s) {unused}; stored layers are 0..{max(layer_map)} "
                "and each must be used (a checkpoint must not carry dead weights)"
            )

    @property
    def effective_norm_divisor(self) -> float:
        """What RMSNorm divides by: `norm_divisor`, or the hidden size when unset (upstream behaviour)."""
        return float(self.norm_divisor) if self.norm_divisor is not None else float(self.hidden_size)

    @property
    def num_stored_layers(self) -> int:
        """How many decoder layers the checkpoint holds (fewer than positions under a layer map)."""
        return max(self.layer_map) + 1 if self.layer_map else self.num_hidden_layers

    def stored_layer_at(self, position: int) -> int:
        """The stored layer that runs at executed position `position`."""
        return self.layer_map[position] if self.layer_map else position

    @property
    def needs_patched_model(self) -> bool:
        """True when stock transformers would load this config without error and compute wrong results."""
        divisor_differs = self.norm_divisor is not None and float(self.norm_divisor) != float(self.hidden_size)
        return divisor_differs or self.layer_map is not None


# Private attributes `to_dict` leaves out but a model built from the config depends on.
_CARRIED_PRIVATE = ("_attn_implementation_internal", "_experts_implementation_internal", "_name_or_path")


def as_growable_config(config, config_cls: type):
    """`config` as an instance of the patched `config_cls`, so a stock config works with defaults.

    A stock `transformers.LlamaConfig` (or `Phi3Config`) has no `norm_divisor` / `layer_map` and
    none of the mixin's helpers; it is rebuilt through `config_cls.from_dict`, so the added keys
    take their defaults (None: upstream behaviour) or, when the stock config carries them as extra
    attributes (stock `from_pretrained` keeps unknown keys), are validated like any patched config.
    A config of another model type is refused rather than reinterpreted.
    """
    if isinstance(config, config_cls):
        return config
    model_type = getattr(config, "model_type", None)
    if model_type != config_cls.model_type:
        raise TypeError(
            f"{config_cls.__module__}.{config_cls.__name__} models take a {config_cls.model_type!r} config, "
            f"got {type(config).__name__} with model_type {model_type!r}"
        )
    converted = config_cls.from_dict(config.to_dict())
    for name in _CARRIED_PRIVATE:
        if name in vars(config):
            setattr(converted, name, getattr(config, name))
    return converted
