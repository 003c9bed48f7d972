"""Grow a checkpoint on disk into a new one, streaming: one parent tensor in, one child tensor out.

Memory stays at about one parent tensor plus the two or three child tensors in flight (see
`writer.py`), never a whole model or shard. The output folder is assembled under a temporary name
and renamed into place only when complete, so a crash never leaves a half-written checkpoint
that looks finished.

Torch runs single-threaded while building: the per-tensor operations are small slice copies and
fills, for which an OpenMP fork/join costs more than the work (measured 60x slower for a strided
copy on a busy 2-core machine), and the disk-writer thread already occupies the second core.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from node.lineage.checkpoint import LazyCheckpoint
from node.lineage.roles import (
    EMBED_NAME,
    GLOBAL_ROLES,
    HEAD_NAME,
    LAYER_ROLES,
    Kind,
    is_ignored,
    layer_tensor,
    parse_name,
)
from node.modeling import family_for_model_type, read_model_config

from .buffers import BufferPool
from .build import build_tensor
from .init import Initializer, Strategy
from .plan import GrowthPlan
from .resolve import ResolvedGrowth, resolve
from .writer import INDEX_FILE, ShardWriter, TensorSpec, plan_shards

DEFAULT_SHARD_BYTES = 2 * 1024**3
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", INDEX_FILE)
TORCH_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class GrowthReport:
    child_dir: Path
    config: dict[str, Any]
    notes: list[str]
    warnings: list[str] = field(default_factory=list)
    tensors: int = 0
    bytes_written: int = 0
    shards: int = 0
    largest_shard_bytes: int = 0
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return not self.notes


def grow(src: str | Path, dst: str | Path, plan: GrowthPlan, *, max_shard_bytes: int = DEFAULT_SHARD_BYTES,
         overwrite: bool = False) -> GrowthReport:
    """Write the child of `src` under `plan` to `dst` (must not exist unless `overwrite`)."""
    started = time.perf_counter()
    src, dst = Path(src), Path(dst)
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} exists; choose a new folder")
    parent_config = read_model_config(src)
    resolved = resolve(plan, parent_config)
    child_config = _child_config(resolved)  # validated before a byte is written
    parent = LazyCheckpoint(src)
    pool = BufferPool()
    specs, makers = _child_tensors(resolved, parent, pool)
    shards = plan_shards(specs, max_shard_bytes)
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    writer = ShardWriter(tmp, shards, pool)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the writer thread is the parallelism; see the module docstring
    try:
        for spec, make in zip(specs, makers, strict=True):
            writer.put(spec.name, make())
        index = writer.finish()
    except BaseException:
        writer.abort()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(threads)
    (tmp / INDEX_FILE).write_text(json.dumps(index, indent=2))
    child_config.save_pretrained(tmp)
    config = json.loads((tmp / "config.json").read_text())
    _copy_extras(src, tmp)
    if dst.exists():
        shutil.rmtree(dst)
    tmp.rename(dst)
    return GrowthReport(dst, config, resolved.notes, resolved.warnings, len(specs), index["metadata"]["total_size"],
                        len(shards), max(sum(s.nbytes for s in shard) for shard in shards),
                        time.perf_counter() - started)


def _child_tensors(resolved: ResolvedGrowth, parent: LazyCheckpoint, pool: BufferPool):
    """Ordered specs and, for each, a zero-argument function that builds it."""
    cfg = resolved.child_config
    init = Initializer(Strategy(resolved.plan.init), resolved.plan.seed, float(cfg.get("initializer_range", 0.02)),
                       resolved.plan.noise, pool)
    names = [parse_name(n) for n in parent.names if not is_ignored(n)]
    suffixes = [s for s in LAYER_ROLES if any(t.layer == 0 and t.suffix == s for t in names)]
    stored = {t.layer for t in names if t.layer is not None}
    for layer in stored:
        have = {t.suffix for t in names if t.layer == layer}
        if have != set(suffixes):
            raise ValueError(f"parent layer {layer} has tensors {sorted(have)}, layer 0 has {sorted(suffixes)}")
    target_dtype = TORCH_DTYPES[resolved.dtype] if resolved.dtype else None
    specs: list[TensorSpec] = []
    makers = []

    def add(name: str, parent_name: str | None, axes: tuple[str, ...], kind: Kind, reference: str) -> None:
        maps = resolved.width.maps_for(axes)
        dtype = target_dtype or parent.dtype(reference)
        specs_shape = tuple(len(m) for m in maps)
        specs.append(TensorSpec(name, specs_shape, dtype))

        def make() -> torch.Tensor:
            stream = init.stream(name)
            source = parent.read(parent_name) if parent_name is not None else None
            out = pool.empty(specs_shape, dtype)
            return build_tensor(source, maps, lambda view, region: init.fill(view, kind, region, stream), dtype, out)

        makers.append(make)

    tied = bool(cfg.get("tie_word_embeddings"))
    add(EMBED_NAME, EMBED_NAME, GLOBAL_ROLES[EMBED_NAME].axes, Kind.EMBED, EMBED_NAME)
    for index, source in enumerate(resolved.layers):
        for suffix in suffixes:
            role = LAYER_ROLES[suffix]
            reference = layer_tensor(source.parent_stored if source.parent_stored is not None else 0, suffix)
            keep = source.parent_stored is not None and (
                role.kind != Kind.WRITER or source.live or source.copy_writers)
            add(layer_tensor(index, suffix), reference if keep else None, role.axes, role.kind, reference)
    add("model.norm.weight", "model.norm.weight", GLOBAL_ROLES["model.norm.weight"].axes, Kind.NORM,
        "model.norm.weight")
    if HEAD_NAME in parent.meta:
        if tied:
            resolved.warnings.append("parent stores lm_head.weight despite tied embeddings; the child does not")
        else:
            add(HEAD_NAME, HEAD_NAME, GLOBAL_ROLES[HEAD_NAME].axes, Kind.HEAD, HEAD_NAME)
    elif not tied:
        raise ValueError("parent has untied embeddings but no lm_head.weight")
    return specs, makers


def _child_config(resolved: ResolvedGrowth) -> Any:
    """The child config, validated by the patched config class; `architectures` names the Sliced* class
    when stock transformers would load the child without error and compute it wrongly."""
    family = family_for_model_type(resolved.family)
    config = family.config_class.from_dict(dict(resolved.child_config))
    base = family.causal_lm_class.__name__.removeprefix("Sliced")
    config.architectures = [("Sliced" + base) if config.needs_patched_model else base]
    return config


def _copy_extras(src: Path, dst: Path) -> None:
    """Tokenizer and generation files travel with the weights; old weights and config do not."""
    for item in src.iterdir():
        if item.is_file() and item.name != "config.json" and not item.name.endswith(WEIGHT_SUFFIXES):
            shutil.copy2(item, dst / item.name)
