"""A competition's limits as the gate's `ModelLimits`: one translation, used by validator and miner alike."""

from __future__ import annotations

from node.competitions.schema import Competition
from node.gate import ModelLimits


def model_limits(competition: Competition, dtype: str, memory_budget_bytes: int | None = None) -> ModelLimits:
    """The limits a model of `competition` must pass before it is evaluated in `dtype`."""
    return ModelLimits(
        allowed_architectures=frozenset(competition.model_types),
        max_parameters=competition.parameters,
        max_total_bytes=competition.model_size,
        max_sequence_len=competition.max_sequence_len,
        memory_budget_bytes=memory_budget_bytes,
        eval_dtype=dtype,
    )
