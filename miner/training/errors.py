"""Why a training run refuses to start: a stable kind per reason (scripts and tests match on the kind)."""

from __future__ import annotations

from enum import StrEnum


class TrainingRefusalKind(StrEnum):
    LAYER_MAP_UNDER_FSDP = "layer_map_under_fsdp"  # FSDP2 cannot run one stored layer at several positions
    ENTRY_SCALES_UNDER_FSDP = "entry_scales_under_fsdp"  # per-entry lr scales / freezing need whole tensors
    NOT_DISTRIBUTED = "not_distributed"  # fsdp asked for, but not launched by torchrun
    BAD_SOURCE = "bad_source"  # the model source is not a folder, pointer or registered hotkey
    TOKENIZER = "tokenizer"  # no tokenizer, or one whose ids do not fit the model
    RESUME_MISMATCH = "resume_mismatch"  # out_dir holds a run with different settings


class TrainingRefused(ValueError):
    """A run that cannot start, with its stable `kind` and a message saying what to change."""

    def __init__(self, kind: TrainingRefusalKind, message: str) -> None:
        super().__init__(f"{kind.value}: {message}")
        self.kind = TrainingRefusalKind(kind)
