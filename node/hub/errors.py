"""Hub errors: callers distinguish "no such model" (permanent) from "hub unreachable" (try later)."""

from __future__ import annotations


class HubError(Exception):
    """Base of every model hub failure."""


class RevisionNotFoundError(HubError):
    """The repository or the revision does not exist."""


class HubUnavailableError(HubError):
    """The hub could not be reached or kept failing (429/5xx/network) after bounded retries."""


class TooLargeError(HubError):
    """The revision's model files exceed the byte limit; raised before anything is downloaded."""


class IntegrityError(HubError):
    """A revision's contents are unacceptable: unsafe names, missing sizes, or bytes not matching sha256."""


class DownloadTimeoutError(HubError):
    """A download did not finish within its deadline."""
