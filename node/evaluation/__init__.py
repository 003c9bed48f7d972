"""Evaluation engine: the one loss routine shared by miner and validator."""

from .loss import sample_losses

__all__ = ["sample_losses"]
