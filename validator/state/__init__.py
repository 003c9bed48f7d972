"""The validator's state: one SQLite database, guarded transitions (see `schema.py`)."""

from .records import LossRow, PlannedModel, Rejection, RoundResult, StaleTransition, Verdict
from .store import StateStore

__all__ = ["LossRow", "PlannedModel", "Rejection", "RoundResult", "StaleTransition", "StateStore", "Verdict"]
