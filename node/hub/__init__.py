"""The model hub boundary: a directory hub by default, the Hugging Face Hub in production, a local store.

    from node.hub import open_hub
    hub = open_hub()                       # $SN29_HUB, else <cache>/hub
    revision = hub.upload("alice/grown-llama", folder)
    info = hub.revision_info("alice/grown-llama", revision)   # sizes + sha256 before download
"""

from node.hub.base import HubFile, ModelHub, RevisionInfo
from node.hub.errors import (
    DownloadTimeoutError,
    HubError,
    HubUnavailableError,
    IntegrityError,
    RevisionNotFoundError,
    TooLargeError,
)
from node.hub.factory import open_hub

__all__ = [
    "DownloadTimeoutError",
    "HubError",
    "HubFile",
    "HubUnavailableError",
    "IntegrityError",
    "ModelHub",
    "RevisionInfo",
    "RevisionNotFoundError",
    "TooLargeError",
    "open_hub",
]
