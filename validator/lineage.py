"""Lineage certification: a model may name its parent; the validator checks the growth and shows the result.

A miner who grew a model puts `lineage.json` (`{"parent": "<pointer>"}`) beside its weights; the file is a
model file, so it is covered by the committed hash. The validator downloads the parent revision through the
same store and runs `node.lineage.verify_growth` in the isolated worker (with its time limit).
Certification is information for operators and miners: it is never required and never changes a score.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from node.identity import PointerError, parse_pointer

log = logging.getLogger(__name__)

LINEAGE_FILE = "lineage.json"
MAX_LINEAGE_BYTES = 4096
LINEAGE_TIMEOUT_S = 900.0


def declared_parent(model_dir: Path) -> str | None:
    """The parent pointer a model declares, or None; raises ValueError for a malformed file."""
    path = Path(model_dir) / LINEAGE_FILE
    if not path.is_file() or path.is_symlink():
        return None
    data = path.read_bytes()[: MAX_LINEAGE_BYTES + 1]
    if len(data) > MAX_LINEAGE_BYTES:
        raise ValueError(f"{LINEAGE_FILE} is over {MAX_LINEAGE_BYTES} bytes")
    obj = json.loads(data)
    if not isinstance(obj, dict) or not isinstance(obj.get("parent"), str):
        raise ValueError(f'{LINEAGE_FILE} must be {{"parent": "<pointer>"}}')
    return parse_pointer(obj["parent"]).format()


def verify_job(parent_dir: str, child_dir: str) -> tuple[bool, str]:
    """Runs in the worker process."""
    from node.lineage import verify_growth

    report = verify_growth(parent_dir, child_dir)
    return report.ok, report.summary()


def certify(services, model_dir: Path) -> tuple[str, str | None, str]:
    """`(lineage, parent, message)` with lineage one of none | certified | not_certified | unchecked."""
    try:
        parent = declared_parent(model_dir)
    except (ValueError, PointerError, OSError) as err:
        return "not_certified", None, f"unreadable {LINEAGE_FILE}: {err}"
    if parent is None:
        return "none", None, ""
    pointer = parse_pointer(parent)
    try:
        lease = services.store.fetch(services.hub, pointer.repo_id, pointer.commit,
                                     timeout=services.settings.download_timeout_s)
    except Exception as err:  # the parent is optional information: any failure leaves it unchecked
        return "unchecked", parent, f"parent not available: {type(err).__name__}: {err}"
    try:
        result = services.worker.call(verify_job, str(lease.path), str(model_dir), timeout_s=LINEAGE_TIMEOUT_S)
    finally:
        lease.release()
    if not result.ok:
        return "unchecked", parent, f"{result.kind.value}: {result.message}"
    ok, summary = result.value
    return ("certified" if ok else "not_certified"), parent, summary[-1000:]
