"""The plain records the state store takes and gives: what a round plans, concludes and stores."""

from __future__ import annotations

from dataclasses import dataclass


class StaleTransition(RuntimeError):
    """A guarded transition found its row in another state (someone, or a previous life, got there first)."""


@dataclass(frozen=True)
class PlannedModel:
    """One model a round will evaluate."""

    hotkey: str
    uid: int | None
    competition: str
    pointer: str
    commit_block: int
    role: str


@dataclass(frozen=True)
class Rejection:
    """A commitment refused at planning time (it never becomes a model row)."""

    hotkey: str
    data: str
    reason: str
    message: str


@dataclass(frozen=True)
class LossRow:
    sample_id: str
    loss: float
    tokens: int


@dataclass(frozen=True)
class Verdict:
    """What verification concluded about one (hotkey, pointer)."""

    hotkey: str
    pointer: str
    status: str  # ok | refused
    reason: str | None = None
    message: str = ""
    content_hash: str | None = None
    parameters: int | None = None
    total_bytes: int | None = None
    lineage: str = "none"
    lineage_parent: str | None = None
    lineage_message: str = ""


@dataclass(frozen=True)
class RoundResult:
    competition: str
    hotkey: str
    uid: int | None
    win_rate: float
    weight: float
    mean_loss: float | None
    samples: int
