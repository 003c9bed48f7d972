"""The one function the node uses to load a model for evaluation.

Everything here treats the checkpoint as untrusted: the folder passes `node.gate.check_model_dir`
first (regular files only, bounded JSON, every config field range-checked, every tensor's name,
dtype and shape checked against the config from the safetensors headers, sizes against the memory
budget), so nothing is allocated for a model the gate refuses; weights come only from safetensors;
no code from the checkpoint is ever executed. Failures are `node.refusal.Refused` (`ModelLoadError`
is the same class, kept for callers that name it).

The guard: stock transformers loads a `norm_divisor` or `layer_map` checkpoint without complaint and
computes wrong results. Callers may pass their own `model_class`; a class that is not one of the
patched ones is refused for such a config.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from node.gate import ModelLimits, check_model_dir
from node.refusal import RefusalKind, Refused
from transformers_growable.modeling import GrowableCausalLMMixin

from .families import family_for_config

ModelLoadError = Refused  # one error type for refusals; the old name stays importable

TORCH_DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def _limits(limits: ModelLimits | None, allowed_architectures, dtype: torch.dtype | None = None) -> ModelLimits:
    limits = limits or ModelLimits()
    if allowed_architectures is not None:
        limits = replace(limits, allowed_architectures=frozenset(allowed_architectures))
    if dtype is not None:
        if dtype not in TORCH_DTYPE_NAMES:
            raise ValueError(f"dtype must be one of {sorted(TORCH_DTYPE_NAMES.values())}, got {dtype}")
        limits = replace(limits, eval_dtype=TORCH_DTYPE_NAMES[dtype])
    return limits


def read_model_config(checkpoint_dir: str | Path, allowed_architectures: set[str] | None = None, *,
                      limits: ModelLimits | None = None):
    """The validated patched config of a model folder that passes the gate (raises `Refused`)."""
    return check_model_dir(checkpoint_dir, _limits(limits, allowed_architectures)).config


def load_model_for_eval(
    checkpoint_dir: str | Path,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    attn_implementation: str = "sdpa",
    model_class: type | None = None,
    allowed_architectures: set[str] | None = None,
    limits: ModelLimits | None = None,
):
    """Load a whole checkpoint with the patched class of its family, in eval mode, after the gate."""
    config = check_model_dir(checkpoint_dir, _limits(limits, allowed_architectures, dtype)).config
    family = family_for_config(config)
    cls = model_class or family.causal_lm_class
    if not issubclass(cls, GrowableCausalLMMixin) and config.needs_patched_model:
        raise Refused(
            RefusalKind.BAD_LAYER_MAP,
            f"{cls.__name__} is a stock class, but this checkpoint sets norm_divisor={config.norm_divisor} "
            f"(hidden_size={config.hidden_size}) or a layer_map; stock transformers would load it silently and "
            "compute wrong results. Use the patched classes (import transformers_llama, transformers_phi3).",
        )
    if issubclass(cls, GrowableCausalLMMixin):
        return cls.from_pretrained_slice(checkpoint_dir, None, dtype=dtype, device=device,
                                         attn_implementation=attn_implementation)
    model = cls.from_pretrained(checkpoint_dir, config=config, dtype=dtype, use_safetensors=True,
                                attn_implementation=attn_implementation)
    return model.to(device).eval()
