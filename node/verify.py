"""Verify one committed model before it is evaluated: hub metadata, hash, size, download, files, config.

Shared by the validator (every model of a round) and the miner (the current
best model that `python -m miner publish` compares against), so both accept exactly the same models.

Order matters: every check that metadata allows runs before a byte is downloaded (size against the
competition's limit, the hotkey-bound hash where the hub lists every sha256), and the gate
(`node.gate.check_model_dir`) reads the downloaded folder's metadata before any tensor is touched.
Each failure is a `Refused` with a stable kind; `transient` kinds (hub down, disk full) are retried later
and never held against the model. When the hub cannot be reached but the store holds the revision with the
digests recorded when it was downloaded and verified, and they still hash to the commitment, that copy is used:
a hub outage then costs no evaluation of a model the validator already has.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from node.competitions import Competition
from node.gate import CheckedModel, ModelLimits, check_model_dir
from node.hub import (
    HubError,
    ModelHub,
    RevisionInfo,
)
from node.hub.leases import Lease
from node.hub.store import ModelStore
from node.identity import ModelPointer, digests_from_folder, dir_hash, hash_scheme
from node.refusal import RefusalKind, Refused

log = logging.getLogger(__name__)


@dataclass
class VerifiedModel:
    """A model that passed every check, held in the store by `lease` until released."""

    lease: Lease
    content_hash: str
    checked: CheckedModel
    hash_scheme: str  # "sn29-v1" | "reference"

    @property
    def path(self):
        return self.lease.path


def hub_refusal(err: HubError) -> Refused:
    """A hub failure as the one refusal type: hub errors already carry their kind (hub down and store full
    are the transient ones); only the message is made plain, without the exception's own kind prefix."""
    return Refused(err.kind, err.message)


def stored_copy(store: ModelStore, pointer: ModelPointer, hotkey: str) -> Lease | None:
    """A lease on the stored revision if the digests recorded at its verified download still hash to the
    commitment (files unchanged since: same names, sizes and mtimes); None otherwise."""
    lease = store.lease(pointer.repo_id, pointer.commit)
    if lease is None:
        return None
    digests = store.stored_digests(pointer.repo_id, pointer.commit)
    if digests is None or hash_scheme(digests, hotkey, pointer.hash) is None:
        lease.release()
        return None
    return lease


def fetch_and_verify(
    hub: ModelHub,
    store: ModelStore,
    pointer: ModelPointer,
    hotkey: str,
    competition: Competition,
    limits: ModelLimits,
    *,
    timeout_s: float,
) -> VerifiedModel:
    """Every check in order; raises `Refused`. The caller releases `result.lease` when done."""
    lease: Lease | None = None
    try:
        info: RevisionInfo = hub.revision_info(pointer.repo_id, pointer.commit)
        info.check_size(competition.model_size)
    except HubError as err:
        lease = stored_copy(store, pointer, hotkey) if err.kind.transient else None
        if lease is None:
            raise hub_refusal(err) from None
        log.warning("%s@%s: %s; using the copy verified when it was downloaded", pointer.repo_id,
                    pointer.commit[:12], err.message)
    except ValueError as err:  # a listing with unsafe names or sha256 values
        raise Refused(RefusalKind.INTEGRITY, str(err)) from None
    if lease is None:
        if info.complete_digests and hash_scheme(info.digests(), hotkey, pointer.hash) is None:
            raise Refused(RefusalKind.HASH_MISMATCH,
                          f"the files of {pointer.repo_id}@{pointer.commit} do not hash to the commitment for {hotkey}")
        try:
            lease = store.fetch(hub, pointer.repo_id, pointer.commit, max_bytes=competition.model_size,
                                timeout=timeout_s)
        except HubError as err:
            raise hub_refusal(err) from None
    try:
        digests = store.stored_digests(pointer.repo_id, pointer.commit) or digests_from_folder(lease.path)
        scheme = hash_scheme(digests, hotkey, pointer.hash)
        if scheme is None:
            raise Refused(RefusalKind.HASH_MISMATCH, "the downloaded files do not hash to the commitment")
        checked = check_model_dir(lease.path, limits)
        return VerifiedModel(lease, dir_hash(digests), checked, scheme)
    except BaseException:
        lease.release()
        raise
