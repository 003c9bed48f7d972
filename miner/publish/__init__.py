"""`python -m miner publish`: check a model like a validator, beat the current best, upload, commit, verify.

See README.md in this folder for the steps, the comparison rule and the state file.
"""

from .compare import REQUIRED_WIN_RATE, Comparison, decide
from .publisher import LINEAGE_FILE, Publisher, PublishError, PublishKind, PublishResult, PublishSettings, write_lineage
from .state import PublishKey, PublishState, StateFile, default_state_path

__all__ = [
    "LINEAGE_FILE",
    "REQUIRED_WIN_RATE",
    "Comparison",
    "PublishError",
    "PublishKey",
    "PublishKind",
    "PublishResult",
    "PublishSettings",
    "PublishState",
    "Publisher",
    "StateFile",
    "decide",
    "default_state_path",
    "write_lineage",
]
