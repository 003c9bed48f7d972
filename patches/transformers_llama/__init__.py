"""Patched Llama for model growth: `import transformers_llama` makes `model_type: llama` load these classes."""

from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)

from transformers_growable.registration import register_family

from .configuration import LlamaConfig
from .modeling import (
    LlamaForCausalLM,
    LlamaForQuestionAnswering,
    LlamaForSequenceClassification,
    LlamaForTokenClassification,
    LlamaModel,
    LlamaPreTrainedModel,
    LlamaRMSNorm,
    SlicedLlamaForCausalLM,
)

register_family(
    "llama",
    LlamaConfig,
    LlamaModel,
    LlamaForCausalLM,
    heads={
        AutoModelForSequenceClassification: LlamaForSequenceClassification,
        AutoModelForTokenClassification: LlamaForTokenClassification,
        AutoModelForQuestionAnswering: LlamaForQuestionAnswering,
    },
)

__all__ = [
    "LlamaConfig",
    "LlamaForCausalLM",
    "LlamaForQuestionAnswering",
    "LlamaForSequenceClassification",
    "LlamaForTokenClassification",
    "LlamaModel",
    "LlamaPreTrainedModel",
    "LlamaRMSNorm",
    "SlicedLlamaForCausalLM",
]
