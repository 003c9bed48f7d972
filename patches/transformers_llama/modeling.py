"""Patched Llama: upstream modules, divisor RMSNorm, layer-mapped and sliced execution."""

from __future__ import annotations

from torch import nn
from transformers.models.llama import modeling_llama as upstream

from transformers_growable.modeling import GrowableCausalLMMixin, GrowableModelMixin
from transformers_growable.norm import DivisorRMSNormMixin
from transformers_growable.slice_loading import SliceLoadingMixin

from .configuration import LlamaConfig


class LlamaRMSNorm(DivisorRMSNormMixin, upstream.LlamaRMSNorm):
    pass


class LlamaPreTrainedModel(upstream.LlamaPreTrainedModel):
    config_class = LlamaConfig
    config: LlamaConfig


class LlamaModel(GrowableModelMixin, upstream.LlamaModel):
    config_class = LlamaConfig
    norm_class = LlamaRMSNorm

    def __init__(self, config: LlamaConfig) -> None:
        super().__init__(config)
        self._install_growable_layers()


class LlamaForCausalLM(SliceLoadingMixin, GrowableCausalLMMixin, upstream.LlamaForCausalLM):
    config_class = LlamaConfig

    def __init__(self, config: LlamaConfig) -> None:
        upstream.LlamaPreTrainedModel.__init__(self, config)
        self.model = LlamaModel(config)
        self.vocab_size = config.vocab_size
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()


class SlicedLlamaForCausalLM(LlamaForCausalLM):
    """The SN29 architecture name; every patched model can run and load layer slices."""
