"""Make `AutoConfig` / `AutoModel*` resolve a family's model_type to the patched classes."""

from __future__ import annotations

from collections.abc import Mapping

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM


def register_family(
    model_type: str,
    config_cls: type,
    model_cls: type,
    causal_lm_cls: type,
    heads: Mapping[type, type] | None = None,
) -> None:
    """Replace the native registration process-wide (`exist_ok=True` is what allows it).

    After this, `AutoModelForCausalLM.from_pretrained` on any checkpoint whose config says
    `model_type: <model_type>` (SN29's `Sliced*` architectures included) builds the patched class,
    and so does each Auto class in `heads` (e.g. `AutoModelForSequenceClassification`) for its head.
    `AutoModel` is registered first: upstream heads build their trunk with `AutoModel.from_config`.
    """
    AutoConfig.register(model_type, config_cls, exist_ok=True)
    AutoModel.register(config_cls, model_cls, exist_ok=True)
    AutoModelForCausalLM.register(config_cls, causal_lm_cls, exist_ok=True)
    for auto_cls, head_cls in (heads or {}).items():
        auto_cls.register(config_cls, head_cls, exist_ok=True)
