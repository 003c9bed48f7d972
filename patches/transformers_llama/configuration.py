"""Llama config with `norm_divisor` and `layer_map` (see transformers_growable.config)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers.models.llama.configuration_llama import LlamaConfig as _UpstreamLlamaConfig

from transformers_growable.config import GrowableConfigMixin


@strict
class LlamaConfig(GrowableConfigMixin, _UpstreamLlamaConfig):
    norm_divisor: int | float | None = None
    layer_map: list[int] | None = None
