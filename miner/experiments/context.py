"""What a running experiment gets besides its config: where to write, which device and dtype, and a logger."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch


@dataclass
class RunContext:
    out_dir: Path
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    log: Callable[[str], None] = print

    @property
    def dtype(self) -> torch.dtype:
        """fp32 on CPU (exact, and what CPUs are fast at); bf16 autocast is the trainer's job on a GPU."""
        return torch.float32

    @property
    def autocast(self) -> torch.autocast | None:
        if self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return None
