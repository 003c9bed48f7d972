"""Chain errors. A failed *read* is never confused with "nothing there".

The reference validator treated a transient RPC error as "this hotkey has no commitment" and dropped
pool models. Here a read either returns data (`None` meaning "no commitment" only when the chain said
so) or raises `ChainReadError`; callers keep their last known state on the exception.
"""

from __future__ import annotations


class ChainError(Exception):
    """Base of every chain failure."""


class ChainReadError(ChainError):
    """The chain could not be read (connection, timeout, corrupt answer). Not "no data"."""


class ChainWriteError(ChainError):
    """A write (commitment, weights, registration) was rejected or could not be submitted."""


class NotRegisteredError(ChainWriteError):
    """The signing hotkey has no uid on this subnet."""


class PermissionDeniedError(ChainWriteError):
    """The hotkey lacks the right for this write (e.g. no validator permit for weights)."""


class RateLimitedError(ChainWriteError):
    """Too soon since this hotkey's previous write of the same kind; `retry_at` is the first allowed block."""

    def __init__(self, message: str, retry_at: int | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class SignatureError(ChainWriteError):
    """The write's signature does not verify against the claimed hotkey."""


class InvalidWeightsError(ChainWriteError):
    """Weights that the chain would refuse (unknown uids, negative or non-finite values, old version)."""
