"""Patched Llama: upstream modules, divisor RMSNorm, layer-mapped and sliced execution, task heads."""

from __future__ import annotations

from transformers.generation import GenerationMixin
from transformers.models.llama import modeling_llama as upstream

from transformers_growable.heads import GrowableHeadMixin
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


# GenerationMixin is listed although upstream's class already has it: transformers requires it as a
# direct base of every generative class (its `test_inherits_generation_mixin`).
class LlamaForCausalLM(SliceLoadingMixin, GrowableCausalLMMixin, upstream.LlamaForCausalLM, GenerationMixin):
    config_class = LlamaConfig
    base_model_class = LlamaModel


class SlicedLlamaForCausalLM(LlamaForCausalLM, GenerationMixin):
    """The SN29 architecture name; every patched model can run and load layer slices."""


class LlamaForSequenceClassification(GrowableHeadMixin, upstream.LlamaForSequenceClassification):
    config_class = LlamaConfig


class LlamaForTokenClassification(GrowableHeadMixin, upstream.LlamaForTokenClassification):
    config_class = LlamaConfig


class LlamaForQuestionAnswering(GrowableHeadMixin, upstream.LlamaForQuestionAnswering):
    config_class = LlamaConfig
