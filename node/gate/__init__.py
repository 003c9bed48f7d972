"""The gate: untrusted model folders checked from metadata, in bounded time and memory, before allocation.

`check_model_dir(path, limits)` returns a `CheckedModel` or raises `node.refusal.Refused` with a stable
kind; `scan_finite` reads the weights block by block for NaN/inf. Every loader of the node
(`node.modeling.load_model_for_eval`, `read_model_config`, `node.evaluation.evaluate_checkpoint`) goes
through `check_model_dir` first. See README.md in this folder.
"""

from .check import CheckedModel, check_model_dir, default_memory_budget
from .finite import scan_finite
from .limits import ModelLimits
from .memory import available_memory_bytes

__all__ = ["CheckedModel", "ModelLimits", "available_memory_bytes", "check_model_dir", "default_memory_budget",
           "scan_finite"]
