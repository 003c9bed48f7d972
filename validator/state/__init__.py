"""The validator's state: one SQLite database, guarded transitions (see `schema.py`)."""

from .store import LossRow, PlannedModel, Rejection, RoundResult, StaleTransition, StateStore, Verdict

__all__ = ["LossRow", "PlannedModel", "Rejection", "RoundResult", "StaleTransition", "StateStore", "Verdict"]
