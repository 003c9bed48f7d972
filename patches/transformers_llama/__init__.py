"""Patched Llama for model growth: `import transformers_llama` makes `model_type: llama` load these classes."""

from transformers_growable.registration import register_family

from .configuration import LlamaConfig
from .modeling import LlamaForCausalLM, LlamaModel, LlamaPreTrainedModel, LlamaRMSNorm, SlicedLlamaForCausalLM

register_family("llama", LlamaConfig, LlamaModel, LlamaForCausalLM)

__all__ = [
    "LlamaConfig",
    "LlamaForCausalLM",
    "LlamaModel",
    "LlamaPreTrainedModel",
    "LlamaRMSNorm",
    "SlicedLlamaForCausalLM",
]
