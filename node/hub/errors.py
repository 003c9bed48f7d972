"""Hub errors: callers distinguish "no such model" (permanent) from "hub unreachable" (try later).

Each is a `node.refusal.Refused` with its stable kind, so a validator records any hub failure the
same way it records a refused model; `kind.transient` says whether to retry.
"""

from __future__ import annotations

from node.refusal import RefusalKind, Refused


class HubError(Refused):
    """Base of every model hub failure; subclasses fix the kind."""

    default_kind = RefusalKind.HUB_UNAVAILABLE

    def __init__(self, message: str, kind: RefusalKind | None = None) -> None:
        super().__init__(kind or self.default_kind, message)

    def __reduce__(self):
        return (type(self), (self.message, self.kind))


class RevisionNotFoundError(HubError):
    """The repository or the revision does not exist."""

    default_kind = RefusalKind.REVISION_NOT_FOUND


class HubUnavailableError(HubError):
    """The hub could not be reached or kept failing (429/5xx/network) after bounded retries."""

    default_kind = RefusalKind.HUB_UNAVAILABLE


class TooLargeError(HubError):
    """The revision's model files exceed the byte limit; raised before anything is downloaded."""

    default_kind = RefusalKind.TOO_LARGE


class IntegrityError(HubError):
    """A revision's contents are unacceptable: unsafe names, missing sizes, or bytes not matching sha256."""

    default_kind = RefusalKind.INTEGRITY


class DownloadTimeoutError(HubError):
    """A download did not finish within its deadline (transient: the hub or the link is slow)."""

    default_kind = RefusalKind.HUB_UNAVAILABLE
