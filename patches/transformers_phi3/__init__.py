"""Patched Phi3 for model growth: `import transformers_phi3` makes `model_type: phi3` load these classes."""

from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

from transformers_growable.registration import register_family

from .configuration import Phi3Config
from .modeling import (
    Phi3ForCausalLM,
    Phi3ForSequenceClassification,
    Phi3ForTokenClassification,
    Phi3Model,
    Phi3PreTrainedModel,
    Phi3RMSNorm,
    SlicedPhi3ForCausalLM,
)

register_family(
    "phi3",
    Phi3Config,
    Phi3Model,
    Phi3ForCausalLM,
    heads={
        AutoModelForSequenceClassification: Phi3ForSequenceClassification,
        AutoModelForTokenClassification: Phi3ForTokenClassification,
    },
)

__all__ = [
    "Phi3Config",
    "Phi3ForCausalLM",
    "Phi3ForSequenceClassification",
    "Phi3ForTokenClassification",
    "Phi3Model",
    "Phi3PreTrainedModel",
    "Phi3RMSNorm",
    "SlicedPhi3ForCausalLM",
]
