"""Loading models safely for evaluation, and the families the node understands."""

from .families import FAMILIES, ModelFamily, family_for_config, family_for_model_type
from .load import ModelLoadError, load_model_for_eval, read_model_config

__all__ = [
    "FAMILIES",
    "ModelFamily",
    "ModelLoadError",
    "family_for_config",
    "family_for_model_type",
    "load_model_for_eval",
    "read_model_config",
]
