#!/usr/bin/env python
"""Quickstart demo: what the foundation guarantees, shown on the small trained model.

Held-out corpus samples are scored (summed CE per sample, the validator's score) by the full model,
by a 4-slice run that never holds more than two slices, by a copy grown from hidden size 576 to 768
with zero padding and `norm_divisor` frozen at 576, and by the same growth without `norm_divisor`.
The first three agree exactly; the last does not, which is why `norm_divisor` exists.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from miner.growth import GrowthPlan, grow
from miner.growth.operators import Hidden
from node.assets.layout import SMALL_MODEL_LLAMA, SMALL_MODEL_PHI3, AssetLayout
from node.data import CorpusSource, TokenizerPolicy, seed_from_block_hash, tokenize_samples
from node.data.tokenizer_files import load_tokenizer
from node.evaluation import sample_losses, sliced_sample_losses
from node.modeling import load_model_for_eval


def without_norm_divisor(grown: Path, out: Path) -> Path:
    """The same weights with `norm_divisor` removed: plain-mean RMSNorm over the new width."""
    out.mkdir()
    for item in grown.iterdir():
        os.symlink(item.resolve(), out / item.name)
    (out / "config.json").unlink()
    config = json.loads((grown / "config.json").read_text())
    config.pop("norm_divisor")
    (out / "config.json").write_text(json.dumps(config))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", choices=["llama", "phi3"], default="llama")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--block-hash", default="0x" + "5e" * 32, help="the seed's source, as a validator would use")
    args = parser.parse_args()

    layout = AssetLayout.default()
    model_dir = layout.model_dir(SMALL_MODEL_LLAMA if args.family == "llama" else SMALL_MODEL_PHI3)
    seed = seed_from_block_hash(args.block_hash)
    samples = CorpusSource(part="heldout").samples(seed, args.samples)
    tokenized = tokenize_samples(samples, load_tokenizer(model_dir / "tokenizer.json"), TokenizerPolicy())
    data = [list(ids) for ids in tokenized.id_lists()]
    tokens = sum(len(ids) for ids in data)
    print(f"model   {model_dir.name} ({model_dir})")
    print(f"samples {len(data)} held-out samples picked by seed {seed} from block hash {args.block_hash[:12]}..., "
          f"{tokens} tokens")
    print()

    rows = []

    def run(label: str, fn):
        started = time.perf_counter()
        losses = fn()
        rows.append((label, losses, time.perf_counter() - started))

    run("full model, fp32", lambda: sample_losses(load_model_for_eval(model_dir), data))
    run("4 slices (<= 2 in memory)", lambda: sliced_sample_losses(model_dir, data, 4))
    with tempfile.TemporaryDirectory(prefix="sn29-demo-") as scratch:
        grown = Path(scratch) / "grown"
        report = grow(model_dir, grown, GrowthPlan(operators=[Hidden(size=768)], init="zeros"))
        run("grown 576->768, norm_divisor=576", lambda: sample_losses(load_model_for_eval(grown), data))
        plain = without_norm_divisor(grown, Path(scratch) / "plain")
        run("same growth, plain-mean RMSNorm", lambda: sample_losses(load_model_for_eval(plain), data))
        shutil.rmtree(grown)
    print(f"growth wrote {report.bytes_written / 2**20:.0f} MiB in {report.seconds:.1f} s")
    print()

    reference = rows[0][1]
    print(f"{'run':36s} {'loss/token':>10s} {'max |delta loss|':>17s} {'time':>7s}")
    for label, losses, seconds in rows:
        per_token = sum(losses) / sum(len(ids) - 1 for ids in data)
        delta = max(abs(a - b) for a, b in zip(losses, reference, strict=True))
        print(f"{label:36s} {per_token:10.4f} {delta:17.6g} {seconds:6.1f}s")
    exact = all(row[1] == reference for row in rows[:3])
    print()
    print("sliced and grown runs equal the full model exactly:", "yes" if exact else "NO")
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
