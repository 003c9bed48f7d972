"""The manifest: what each build step produced (sha256, size) and from which PyPI files.

It is the build's memory. A step whose entry is present and whose files all exist is done: it is
only re-verified, which makes a second `build` fast and download-free. A step is recorded only
after all its files are in place, so a build killed half-way resumes at the first unrecorded step.
A file that exists but no longer matches is an error rather than a silent rebuild: someone or
something changed a shared asset, and the user should know before `--force` replaces it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.assets.errors import AssetError, ChecksumError
from node.assets.fsutil import sha256_file, write_bytes_atomic
from node.assets.sources import Archive

FORMAT = 1


def file_entry(path: Path) -> dict[str, Any]:
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


@dataclass
class StepStatus:
    """Outcome of checking one recorded step against the files on disk."""

    complete: bool
    missing: list[str] = field(default_factory=list)
    bytes: int = 0


@dataclass
class Manifest:
    """In-memory form of `manifest.json`."""

    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AssetError(f"{path}: unreadable manifest ({exc}); rerun with --force to rebuild") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("steps"), dict):
            raise AssetError(f"{path}: unknown manifest format; rerun with --force to rebuild")
        return cls(steps=data["steps"])

    def to_json(self) -> dict[str, Any]:
        sources: dict[str, Any] = {}
        for entry in self.steps.values():
            for source in entry.get("sources", []):
                sources[source["project"]] = source
        return {"format": FORMAT, "sources": dict(sorted(sources.items())), "steps": self.steps}

    def save(self, path: Path) -> None:
        text = json.dumps(self.to_json(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        write_bytes_atomic(path, text.encode("utf-8"))

    def record(
        self,
        step: str,
        recipe: int,
        archives: list[Archive],
        root: Path,
        files: list[Path],
        info: dict[str, Any],
    ) -> None:
        """Remember a finished step: its recipe version, sources, every output file and its check results."""
        self.steps[step] = {
            "recipe": recipe,
            "sources": [
                {"project": a.project, "version": a.version, "filename": a.filename, "sha256": a.sha256}
                for a in sorted(set(archives), key=lambda a: a.project)
            ],
            "files": {p.relative_to(root).as_posix(): file_entry(p) for p in sorted(files)},
            "info": info,
        }

    def check_step(self, step: str, root: Path) -> StepStatus:
        """Verify a recorded step's files; missing files make it incomplete, changed files raise."""
        entry = self.steps[step]
        status = StepStatus(complete=True)
        for rel, expected in entry["files"].items():
            path = root / rel
            if not path.is_file():
                status.complete = False
                status.missing.append(rel)
                continue
            size = path.stat().st_size
            if size != expected["size"] or sha256_file(path) != expected["sha256"]:
                raise ChecksumError(
                    f"{path} (step {step}) does not match its manifest checksum: the file was modified or "
                    f"corrupted; rerun `python -m node.assets build --force` to rebuild it"
                )
            status.bytes += size
        return status
