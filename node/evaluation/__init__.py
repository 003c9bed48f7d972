"""Evaluation engine: the one loss routine shared by miner and validator, full or sliced, isolated."""

from .engine import EvalReport, EvalSettings, evaluate_checkpoint, parameter_count
from .isolated import EvalOutcome, evaluate_isolated
from .loss import LossLayout, sample_losses
from .sliced import even_slices, sliced_sample_losses

__all__ = [
    "EvalOutcome",
    "EvalReport",
    "EvalSettings",
    "LossLayout",
    "evaluate_checkpoint",
    "evaluate_isolated",
    "even_slices",
    "parameter_count",
    "sample_losses",
    "sliced_sample_losses",
]
