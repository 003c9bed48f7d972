"""What the fault and load suites count, for `scripts/fault_report`.

Each fault test runs at two scales: `short` (in the default test run, seconds to a minute) and `full`
(marked `slow`; what the report runs). A test records its tallies with `record(...)`; when
`$SN29_FAULT_RECORD_DIR` is set (the report sets it) one JSON line per call is appended to
`<dir>/<group>.jsonl`, otherwise recording is a no-op. The test's assertions are what make it pass or fail;
the record is only the figures the report prints.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

RECORD_DIR_ENV = "SN29_FAULT_RECORD_DIR"
SCALES = [pytest.param("short", id="short"), pytest.param("full", id="full", marks=pytest.mark.slow)]


def record(group: str, fault: str, *, injected: int, recovered: int, lost: int = 0, double: int = 0,
           scale: str = "short", **figures: Any) -> None:
    """One row of the report: `fault` injected `injected` times, `recovered` of them recovered, `lost`
    records lost and `double` things counted twice (both must be 0 for the test to pass); `figures` are
    extra numbers (cosine, rss_mb, ...)."""
    folder = os.environ.get(RECORD_DIR_ENV)
    if not folder:
        return
    row = {"group": group, "fault": fault, "scale": scale, "injected": injected, "recovered": recovered,
           "lost": lost, "double": double, **figures}
    path = Path(folder) / f"{group}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, sort_keys=True) + "\n")
