"""The validator daemon: sync -> verify -> evaluate -> score -> set weights, unattended and resumable.

`python -m validator run` (or `sn29-validator run`); see `validator.settings` for every setting.
"""

__version__ = "0.1.0"
# Sent with every weight write: major * 1_000_000 + minor * 1_000 + patch (bittensor's spec-version convention).
VERSION_KEY = 1_000
