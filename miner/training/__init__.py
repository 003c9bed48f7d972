"""Training for miners: `train(TrainConfig(...))` or `python -m miner train` (see README in this folder).

    from miner.training import TrainConfig, train
    result = train(TrainConfig(model="parent/", out_dir="runs/a", steps=200))
    result.model_dir      # step-000200/model: a save_pretrained folder the validator loads
"""

from .config import GrowthStep, TrainConfig
from .errors import TrainingRefusalKind, TrainingRefused
from .loop import TrainResult, train

__all__ = ["GrowthStep", "TrainConfig", "TrainResult", "TrainingRefusalKind", "TrainingRefused", "train"]
