"""The build: an ordered list of steps, each skipped when the manifest says it is done and intact.

A step reads its PyPI members (through a `MemberSource`) and earlier steps' outputs from the real
root, writes only into a private staging folder, and its files are renamed into place one by one
before the step is recorded. So a killed build leaves no half-written asset behind, and the next
run redoes exactly the steps that were not recorded. A lock serialises concurrent builds of a root.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.assets import sources as src
from node.assets.download import Downloader, MemberSource
from node.assets.errors import AssetError
from node.assets.fsutil import install_tree, remove_tree
from node.assets.layout import SMALL_MODEL_LLAMA, SMALL_MODEL_PHI3, AssetLayout
from node.assets.manifest import Manifest

Log = Callable[[str], None]


@dataclass(frozen=True)
class StepContext:
    """What a step may touch: `layout` to read earlier outputs, `out` (staging) to write its own."""

    layout: AssetLayout
    out: AssetLayout
    members: list[Path]

    def corpus_texts(self) -> list[str]:
        from node.assets.corpus import read_corpus

        return [d.text for d in read_corpus(self.layout.corpus)]

    def model_texts(self) -> list[str]:
        """A few short, fixed corpus documents for loss checks: the first two of each source."""
        from node.assets.corpus import ENWIKI_SOURCE, LEE_SOURCE, read_corpus

        docs = read_corpus(self.layout.corpus)
        picked = [d for s in (ENWIKI_SOURCE, LEE_SOURCE) for d in [d for d in docs if d.source == s][:2]]
        return [d.text for d in picked]


@dataclass(frozen=True)
class Step:
    """One unit of the build. Bump `recipe` when its output would change: old roots then rebuild it."""

    name: str
    recipe: int
    members: tuple[src.Member, ...]
    run: Callable[[StepContext], dict[str, Any]]
    requires: tuple[str, ...] = ()


def _corpus(ctx: StepContext) -> dict[str, Any]:
    from node.assets.corpus import build_corpus

    return build_corpus(ctx.members[0], ctx.members[1], ctx.out.corpus)


def _phi3_tokenizer(ctx: StepContext) -> dict[str, Any]:
    from node.assets.tokenizers import build_phi3

    gguf, inp, out = ctx.members
    return build_phi3(gguf, inp, out, ctx.out.tokenizer_dir("phi3"), ctx.corpus_texts())


def _tiktoken_step(name: str) -> Callable[[StepContext], dict[str, Any]]:
    def run(ctx: StepContext) -> dict[str, Any]:
        from node.assets.tokenizers import build_tiktoken

        return build_tiktoken(
            name, ctx.members[0], ctx.out.tokenizer_dir(name), ctx.out.tiktoken_cache, ctx.corpus_texts()
        )

    return run


def _llama_model(ctx: StepContext) -> dict[str, Any]:
    from node.assets.small_model import build_llama

    return build_llama(ctx.members[0], ctx.out.model_dir(SMALL_MODEL_LLAMA), ctx.model_texts())


def _phi3_model(ctx: StepContext) -> dict[str, Any]:
    from node.assets.small_model import build_phi3

    llama_dir = ctx.layout.model_dir(SMALL_MODEL_LLAMA)
    return build_phi3(llama_dir, ctx.out.model_dir(SMALL_MODEL_PHI3), ctx.model_texts())


STEPS: tuple[Step, ...] = (
    Step("corpus", 1, (src.ENWIKI_XML, src.LEE_BACKGROUND), _corpus),
    Step(
        "tokenizer:phi3",
        1,
        (src.PHI3_VOCAB_GGUF, src.PHI3_VOCAB_INP, src.PHI3_VOCAB_OUT),
        _phi3_tokenizer,
        ("corpus",),
    ),
    Step("tokenizer:cl100k", 1, (src.CL100K_TIKTOKEN,), _tiktoken_step("cl100k"), ("corpus",)),
    Step("tokenizer:gpt2", 1, (src.GPT2_TIKTOKEN,), _tiktoken_step("gpt2"), ("corpus",)),
    Step(f"model:{SMALL_MODEL_LLAMA}", 1, (src.SMOLLM2_GGUF,), _llama_model, ("corpus",)),
    Step(f"model:{SMALL_MODEL_PHI3}", 1, (), _phi3_model, ("corpus", f"model:{SMALL_MODEL_LLAMA}")),
)
STEP_NAMES = tuple(s.name for s in STEPS)


@dataclass
class StepResult:
    name: str
    action: str  # "verified" | "built" | "rebuilt"
    seconds: float
    bytes: int
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildReport:
    root: Path
    results: list[StepResult] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def built(self) -> list[str]:
        return [r.name for r in self.results if r.action != "verified"]


def select_steps(only: Sequence[str] | None) -> list[Step]:
    """The requested steps plus everything they require, in build order."""
    if not only:
        return list(STEPS)
    unknown = sorted(set(only) - set(STEP_NAMES))
    if unknown:
        raise AssetError(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(STEP_NAMES)}")
    by_name = {s.name: s for s in STEPS}
    wanted: set[str] = set()
    stack = list(only)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(by_name[name].requires)
    return [s for s in STEPS if s.name in wanted]


@contextmanager
def _locked(root: Path, log: Log) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"waiting for another build of {root} to finish...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _quiet_libraries() -> None:
    """transformers' own progress bars and notices would drown the per-step lines."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _run_step(step: Step, layout: AssetLayout, members: list[Path]) -> tuple[dict[str, Any], list[Path]]:
    staging = layout.staging / f"{step.name.replace(':', '-')}-{os.getpid()}"
    remove_tree(staging)
    try:
        info = step.run(StepContext(layout=layout, out=AssetLayout(staging), members=members))
        return info, install_tree(staging, layout.root)
    finally:
        remove_tree(staging)


def build(
    layout: AssetLayout,
    *,
    force: bool = False,
    only: Sequence[str] | None = None,
    source: MemberSource | None = None,
    log: Log = print,
) -> BuildReport:
    """Bring `layout.root` up to date; see the module docstring for the rules."""
    started = time.monotonic()
    steps = select_steps(only)
    report = BuildReport(root=layout.root)
    with _locked(layout.root, log):
        remove_tree(layout.staging)  # leftovers of a killed build (we hold the lock)
        manifest = Manifest.load(layout.manifest)
        quiet = False
        for index, step in enumerate(steps, 1):
            prefix = f"[{index}/{len(steps)}] {step.name}"
            t0 = time.monotonic()
            entry = manifest.steps.get(step.name)
            action = "built"
            if entry is not None and not force:
                if entry.get("recipe") == step.recipe:
                    status = manifest.check_step(step.name, layout.root)
                    if status.complete:
                        seconds = time.monotonic() - t0
                        report.results.append(StepResult(step.name, "verified", seconds, status.bytes, entry["info"]))
                        log(f"{prefix}: verified ({_mb(status.bytes)}, {seconds:.1f}s)")
                        continue
                    log(f"{prefix}: {len(status.missing)} file(s) missing ({status.missing[0]}...), rebuilding")
                else:
                    log(f"{prefix}: recipe changed ({entry.get('recipe')} -> {step.recipe}), rebuilding")
                action = "rebuilt"
            else:
                log(f"{prefix}: building...")
            if source is None:
                source = Downloader(layout.downloads)
            if not quiet:
                _quiet_libraries()
                quiet = True
            members = source.fetch(step.members) if step.members else []
            info, files = _run_step(step, layout, members)
            manifest.record(step.name, step.recipe, [m.archive for m in step.members], layout.root, files, info)
            manifest.save(layout.manifest)
            size = sum(p.stat().st_size for p in files)
            seconds = time.monotonic() - t0
            report.results.append(StepResult(step.name, action, seconds, size, info))
            log(f"{prefix}: {action} ({_mb(size)}, {seconds:.1f}s) {_brief(info)}")
    if isinstance(source, Downloader):
        report.downloaded = list(source.fetched_archives)
    report.seconds = time.monotonic() - started
    return report


def verify(layout: AssetLayout) -> tuple[int, int]:
    """Check every recorded file; returns (files, bytes). Raises on a missing step, file or mismatch."""
    manifest = Manifest.load(layout.manifest)
    if not manifest.steps:
        raise AssetError(f"no assets built in {layout.root}; run `python -m node.assets build`")
    absent = [s for s in STEP_NAMES if s not in manifest.steps]
    if absent:
        raise AssetError(f"{layout.root}: step(s) never built: {', '.join(absent)}; run `python -m node.assets build`")
    files = total = 0
    for name in manifest.steps:
        status = manifest.check_step(name, layout.root)
        if not status.complete:
            raise AssetError(
                f"{layout.root / status.missing[0]} (step {name}) is missing; run `python -m node.assets build`"
            )
        files += len(manifest.steps[name]["files"])
        total += status.bytes
    return files, total


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _brief(info: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in info.items())
