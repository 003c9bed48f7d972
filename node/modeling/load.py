"""The one function the node uses to load a model for evaluation.

Everything here treats the checkpoint as untrusted: the config is parsed from JSON by us (bounded
size, no `auto_map`, exact architecture names, strict dataclass validation) before any tensor is
allocated; weights come only from safetensors; no code from the checkpoint is ever executed.

The guard: stock transformers loads a `norm_divisor` or `layer_map` checkpoint without complaint and
computes wrong results. Callers may pass their own `model_class`; a class that is not one of the
patched ones is refused for such a config.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from transformers_growable.modeling import GrowableCausalLMMixin

from .families import family_for_config, family_for_model_type

MAX_CONFIG_BYTES = 1 << 20
FORBIDDEN_CONFIG_KEYS = ("auto_map",)


class ModelLoadError(ValueError):
    """A checkpoint that cannot be loaded for evaluation; the message is the reason."""


def read_model_config(checkpoint_dir: str | Path, allowed_architectures: set[str] | None = None):
    """Parse and validate `config.json` into the patched config class of its family."""
    path = Path(checkpoint_dir) / "config.json"
    if not path.is_file():
        raise ModelLoadError(f"no config.json in {checkpoint_dir}")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelLoadError(f"config.json is {path.stat().st_size} bytes; the limit is {MAX_CONFIG_BYTES}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"config.json is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ModelLoadError("config.json must hold a JSON object")
    for key in FORBIDDEN_CONFIG_KEYS:
        if key in raw:
            raise ModelLoadError(f"config.json has {key!r}: remote code is never run")
    try:
        family = family_for_model_type(raw.get("model_type"))
    except ValueError as exc:
        raise ModelLoadError(str(exc)) from None
    architectures = raw.get("architectures") or []
    allowed = family.architectures if allowed_architectures is None else family.architectures & allowed_architectures
    if not isinstance(architectures, list) or len(architectures) != 1 or architectures[0] not in allowed:
        raise ModelLoadError(f"architectures {architectures!r} is not exactly one of {sorted(allowed)}")
    try:
        return family.config_class.from_dict(raw)
    except Exception as exc:  # strict dataclass validation raises several types
        raise ModelLoadError(f"invalid config: {exc}") from None


def load_model_for_eval(
    checkpoint_dir: str | Path,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    attn_implementation: str = "sdpa",
    model_class: type | None = None,
    allowed_architectures: set[str] | None = None,
):
    """Load a whole checkpoint with the patched class of its family, in eval mode."""
    config = read_model_config(checkpoint_dir, allowed_architectures)
    family = family_for_config(config)
    cls = model_class or family.causal_lm_class
    if not issubclass(cls, GrowableCausalLMMixin) and config.needs_patched_model:
        raise ModelLoadError(
            f"{cls.__name__} is a stock class, but this checkpoint sets norm_divisor={config.norm_divisor} "
            f"(hidden_size={config.hidden_size}) or a layer_map; stock transformers would load it silently and "
            "compute wrong results. Use the patched classes (import transformers_llama, transformers_phi3)."
        )
    if not any(Path(checkpoint_dir).glob("*.safetensors")):
        raise ModelLoadError(f"no safetensors weights in {checkpoint_dir} (other formats are never loaded)")
    if issubclass(cls, GrowableCausalLMMixin):
        return cls.from_pretrained_slice(checkpoint_dir, None, dtype=dtype, device=device,
                                         attn_implementation=attn_implementation)
    model = cls.from_pretrained(checkpoint_dir, config=config, dtype=dtype, use_safetensors=True,
                                attn_implementation=attn_implementation)
    return model.to(device).eval()
