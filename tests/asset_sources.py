"""Stand-in asset sources for builder tests: serve members from local files, or refuse to download."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from node.assets.sources import Member


class FakeSource:
    """Serves members from local files (no pins checked) and counts calls."""

    def __init__(self, paths: dict[Member, Path]) -> None:
        self.paths = paths
        self.calls = 0

    def fetch(self, members: Sequence[Member]) -> list[Path]:
        self.calls += 1
        return [self.paths[m] for m in members]


class NoDownloads:
    def fetch(self, members: Sequence[Member]) -> list[Path]:
        raise AssertionError(f"unexpected download of {[m.path for m in members]}")
