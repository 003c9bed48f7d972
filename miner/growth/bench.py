"""Growth benchmark: is streaming growth about as cheap as copying its output, in bounded memory?

Grows a checkpoint to twice the width (hidden, heads, intermediate) and twice the depth (G_stack
x2, exact init), then copies the output folder once. Reports growth time / copy time and peak
resident memory above the pre-growth baseline / (largest parent shard + largest child shard),
ending with one machine-readable `key=value` line.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from node.modeling import read_model_config

from .cli import parse_size
from .grow import grow
from .operators import Hidden, Intermediate, Stack
from .plan import GrowthPlan


class PeakRss:
    """Samples this process's RSS every few ms in a thread (ru_maxrss would include import-time peaks)."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self.interval)


def double_plan(parent_dir: Path, seed: int = 0) -> GrowthPlan:
    cfg = read_model_config(parent_dir)
    return GrowthPlan([Hidden(cfg.hidden_size * 2), Intermediate(cfg.intermediate_size * 2), Stack(2)], seed=seed)


def _warm(path: Path) -> None:
    """Read the parent once so growth and copy both start from the page cache."""
    for file in path.iterdir():
        if file.is_file():
            with file.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


def run(parent_dir: Path, work_dir: Path, shard_bytes: int) -> dict[str, float]:
    child, copy = work_dir / "child", work_dir / "copy"
    shutil.rmtree(child, ignore_errors=True)
    shutil.rmtree(copy, ignore_errors=True)
    plan = double_plan(parent_dir)
    _warm(parent_dir)
    os.sync()  # each timed phase starts with no dirty pages of earlier work to flush
    baseline = psutil.Process().memory_info().rss
    with PeakRss() as peak:
        started = time.perf_counter()
        report = grow(parent_dir, child, plan, max_shard_bytes=shard_bytes)
        grow_s = time.perf_counter() - started
    os.sync()
    started = time.perf_counter()
    shutil.copytree(child, copy)
    copy_s = time.perf_counter() - started
    shutil.rmtree(copy)
    parent_shard = max(f.stat().st_size for f in parent_dir.glob("*.safetensors"))
    child_shard = max(f.stat().st_size for f in child.glob("*.safetensors"))
    budget = parent_shard + child_shard
    return {
        "grow_s": grow_s, "copy_s": copy_s, "time_ratio": grow_s / copy_s,
        "child_mb": report.bytes_written / 1e6, "shards": report.shards,
        "parent_shard_mb": parent_shard / 1e6, "child_shard_mb": child_shard / 1e6,
        "baseline_rss_mb": baseline / 1e6, "peak_rss_mb": peak.peak / 1e6,
        "mem_ratio": (peak.peak - baseline) / budget, "mem_ratio_total": peak.peak / budget,
        "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
        "exact": float(report.exact),
        "cpus": float(os.cpu_count() or 0), "load_1m": os.getloadavg()[0],  # others' work skews both timings
    }


def main(argv: list[str] | None = None) -> int:
    from node.assets.layout import SMALL_MODEL_LLAMA, AssetLayout

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parent", type=Path, default=AssetLayout.default().model_dir(SMALL_MODEL_LLAMA))
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temporary one, removed after)")
    parser.add_argument("--shard-size", type=parse_size, default=parse_size("100MB"))
    args = parser.parse_args(argv)
    if not (args.parent / "config.json").is_file():
        parser.error(f"no checkpoint at {args.parent} (build assets with `python -m node.assets build`)")
    with tempfile.TemporaryDirectory(prefix="bench_grow_", dir=args.work) as scratch:
        r = run(args.parent, Path(scratch), args.shard_size)
    print(f"grew {args.parent.name} to 2x width, 2x depth: {r['child_mb']:.0f} MB in {r['shards']:.0f} shards")
    print(f"time:   growth {r['grow_s']:.2f} s vs copying the output {r['copy_s']:.2f} s -> {r['time_ratio']:.2f}x "
          "(target <= 2x)")
    print(f"memory: peak RSS {r['peak_rss_mb']:.0f} MB, {r['baseline_rss_mb']:.0f} MB of it before growth "
          f"(interpreter, torch); growth added {r['peak_rss_mb'] - r['baseline_rss_mb']:.0f} MB vs largest parent "
          f"shard {r['parent_shard_mb']:.0f} MB + largest child shard {r['child_shard_mb']:.0f} MB -> "
          f"{r['mem_ratio']:.2f}x (target <= 1.5x; {r['mem_ratio_total']:.2f}x counting the baseline)")
    keys = ("time_ratio", "mem_ratio", "mem_ratio_total", "grow_s", "copy_s", "peak_rss_mb", "baseline_rss_mb",
            "parent_shard_mb", "child_shard_mb", "child_mb", "load_1m")
    print(" ".join(f"{k}={r[k]:.3f}" if isinstance(r[k], float) else f"{k}={r[k]}" for k in keys))
    return 0
