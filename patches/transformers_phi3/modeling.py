"""Patched Phi3 (fused qkv / gate_up, partial rotary): divisor RMSNorm, layer-mapped and sliced execution."""

from __future__ import annotations

from torch import nn
from transformers.models.phi3 import modeling_phi3 as upstream

from transformers_growable.modeling import GrowableCausalLMMixin, GrowableModelMixin
from transformers_growable.norm import DivisorRMSNormMixin
from transformers_growable.slice_loading import SliceLoadingMixin

from .configuration import Phi3Config


class Phi3RMSNorm(DivisorRMSNormMixin, upstream.Phi3RMSNorm):
    pass


class Phi3PreTrainedModel(upstream.Phi3PreTrainedModel):
    config_class = Phi3Config
    config: Phi3Config


class Phi3Model(GrowableModelMixin, upstream.Phi3Model):
    config_class = Phi3Config
    norm_class = Phi3RMSNorm

    def __init__(self, config: Phi3Config) -> None:
        super().__init__(config)
        self._install_growable_layers()


class Phi3ForCausalLM(SliceLoadingMixin, GrowableCausalLMMixin, upstream.Phi3ForCausalLM):
    config_class = Phi3Config

    def __init__(self, config: Phi3Config) -> None:
        upstream.Phi3PreTrainedModel.__init__(self, config)
        self.model = Phi3Model(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()


class SlicedPhi3ForCausalLM(Phi3ForCausalLM):
    """The SN29 architecture name; every patched model can run and load layer slices."""
