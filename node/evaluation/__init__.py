"""Evaluation engine: the one loss routine shared by miner and validator, full or sliced."""

from .loss import sample_losses
from .sliced import even_slices, sliced_sample_losses

__all__ = ["even_slices", "sample_losses", "sliced_sample_losses"]
