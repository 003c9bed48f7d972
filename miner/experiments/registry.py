"""The experiments by name. Modules are imported only when their experiment is asked for (torch-heavy imports
stay out of `python -m miner --help`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

# name -> module defining `EXPERIMENT`
MODULES: dict[str, str] = {
    "stack-vs-scratch": "miner.experiments.stack_vs_scratch",
    "layer-maps": "miner.experiments.layer_maps",
    "virtual-layers": "miner.experiments.virtual_layers",
    "low-rank": "miner.experiments.low_rank",
}


@dataclass(frozen=True)
class Experiment:
    """One experiment: its name, a one-line question, its config type and what runs it."""

    name: str
    question: str
    config_type: type
    run: Callable[[Any, Any], Any]  # (config, RunContext) -> ExperimentResult

    @property
    def default_config_path(self) -> Path:
        return CONFIG_DIR / f"{self.name}.yaml"


def names() -> list[str]:
    return list(MODULES)


def get(name: str) -> Experiment:
    """The experiment called `name`; `ValueError` listing the known names otherwise."""
    if name not in MODULES:
        raise ValueError(f"unknown experiment {name!r}; known: {', '.join(MODULES)}")
    experiment = importlib.import_module(MODULES[name]).EXPERIMENT
    if experiment.name != name:
        raise AssertionError(f"{MODULES[name]} defines experiment {experiment.name!r}, registered as {name!r}")
    return experiment
