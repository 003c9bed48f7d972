"""Phi3 config with `norm_divisor` and `layer_map` (see transformers_growable.config)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers.models.phi3.configuration_phi3 import Phi3Config as _UpstreamPhi3Config

from transformers_growable.config import GrowableConfigMixin


@strict
class Phi3Config(GrowableConfigMixin, _UpstreamPhi3Config):
    norm_divisor: int | float | None = None
    layer_map: list[int] | None = None
