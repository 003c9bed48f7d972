"""Patched Phi3 (fused qkv / gate_up, partial rotary): divisor RMSNorm, layer-mapped and sliced execution,
task heads. transformers ships sequence and token classification heads for Phi3 (no question answering)."""

from __future__ import annotations

from transformers.generation import GenerationMixin
from transformers.models.phi3 import modeling_phi3 as upstream

from transformers_growable.heads import GrowableHeadMixin
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


# GenerationMixin is listed although upstream's class already has it: transformers requires it as a
# direct base of every generative class (its `test_inherits_generation_mixin`).
class Phi3ForCausalLM(SliceLoadingMixin, GrowableCausalLMMixin, upstream.Phi3ForCausalLM, GenerationMixin):
    config_class = Phi3Config
    base_model_class = Phi3Model


class SlicedPhi3ForCausalLM(Phi3ForCausalLM, GenerationMixin):
    """The SN29 architecture name; every patched model can run and load layer slices."""


class Phi3ForSequenceClassification(GrowableHeadMixin, upstream.Phi3ForSequenceClassification):
    config_class = Phi3Config


class Phi3ForTokenClassification(GrowableHeadMixin, upstream.Phi3ForTokenClassification):
    config_class = Phi3Config
