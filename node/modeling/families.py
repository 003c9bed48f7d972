"""The model families a node accepts, keyed by `model_type`, with the architecture names SN29 uses."""

from __future__ import annotations

from dataclasses import dataclass

import transformers_llama
import transformers_phi3


@dataclass(frozen=True)
class ModelFamily:
    model_type: str
    config_class: type
    causal_lm_class: type
    architectures: frozenset[str]


FAMILIES: dict[str, ModelFamily] = {
    "llama": ModelFamily(
        "llama",
        transformers_llama.LlamaConfig,
        transformers_llama.LlamaForCausalLM,
        frozenset({"LlamaForCausalLM", "SlicedLlamaForCausalLM"}),
    ),
    "phi3": ModelFamily(
        "phi3",
        transformers_phi3.Phi3Config,
        transformers_phi3.Phi3ForCausalLM,
        frozenset({"Phi3ForCausalLM", "SlicedPhi3ForCausalLM"}),
    ),
}


def family_for_model_type(model_type: object) -> ModelFamily:
    family = FAMILIES.get(model_type) if isinstance(model_type, str) else None
    if family is None:
        raise ValueError(f"unsupported model_type {model_type!r}; expected one of {sorted(FAMILIES)}")
    return family


def family_for_config(config) -> ModelFamily:
    return family_for_model_type(getattr(config, "model_type", None))
