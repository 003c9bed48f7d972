"""Processes and devices: one process, or many under `torchrun` with DDP or FSDP2.

Launched by `torchrun` (WORLD_SIZE set), each process joins the group (gloo on CPU, nccl on CUDA)
and trains on its own micro-batches; gradients are averaged across processes before the optimiser
step, so every process ends each step with the same weights.

- DDP: the whole model on every process, `find_unused_parameters=False`. Micro-batches before the
  last one of a step skip the all-reduce (`no_sync`). A model with a `layer_map` runs one stored layer
  at several positions; that needs nothing special: autograd sums the gradient a parameter gets from
  every position before its one AccumulateGrad runs, so DDP's reducer sees each parameter ready once
  per backward (tested bitwise against one process, with and without activation checkpointing).
  `static_graph=True` is not needed, and in torch 2.13 it breaks `no_sync` accumulation on the first
  step (`expect_autograd_hooks_ INTERNAL ASSERT FAILED` in reducer.cpp), so it is not used.
- FSDP2 (`fully_shard` on each decoder layer, then the root): parameters, gradients and optimiser
  state sharded across processes, for models that do not fit one device. Gradient sync is off for all
  but the last micro-batch, so the reduction sees the same sums DDP does (bitwise equal in fp32). A
  `layer_map` model is refused: FSDP2 unshards a module in its pre-forward hook and reshards it after
  its forward, and a module that runs at several positions in one step breaks that bookkeeping (an
  open upstream problem); use DDP for such a model, or materialise the map.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .errors import TrainingRefusalKind, TrainingRefused


@dataclass(frozen=True)
class Processes:
    """Where this process is: its rank among `world` processes, and its device."""

    rank: int
    world: int
    local_rank: int
    device: torch.device
    parallelism: str  # "single", "ddp" or "fsdp"

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def mean(self, value: float) -> float:
        """The mean of `value` over processes (for logging; the gradients are reduced by DDP/FSDP)."""
        if self.world == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor) / self.world


def launched_by_torchrun() -> bool:
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def start(parallelism: str, device: str | None) -> Processes:
    """Join the process group when launched by torchrun and pick this process's device."""
    if not launched_by_torchrun():
        if parallelism == "fsdp":
            raise TrainingRefused(TrainingRefusalKind.NOT_DISTRIBUTED,
                                  "parallelism fsdp shards over processes: launch with torchrun --nproc_per_node=N")
        return Processes(0, 1, 0, torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")), "single")
    rank, world, local = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"])
    if device is None:
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    chosen = torch.device(device)
    if chosen.type == "cuda":
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo", timeout=timedelta(minutes=30))
    return Processes(rank, world, local, chosen, "fsdp" if parallelism == "fsdp" else "ddp")


def stop(processes: Processes) -> None:
    if processes.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def refuse_unsupported(model: torch.nn.Module, processes: Processes) -> None:
    """Refuse, before any sharding, a model this parallelism cannot train correctly."""
    if processes.parallelism == "fsdp" and getattr(model.config, "layer_map", None) is not None:
        raise TrainingRefused(
            TrainingRefusalKind.LAYER_MAP_UNDER_FSDP,
            f"this model runs stored layers at several positions (layer_map={model.config.layer_map}); FSDP2 "
            "reshards a module after each forward, so a module reused within one step is not supported "
            "(open upstream). Train it with DDP (parallelism: ddp), or materialise the map with miner grow.",
        )


def wrap(model: torch.nn.Module, processes: Processes) -> torch.nn.Module:
    """The module the loop calls: the model itself, DDP around it, or the model sharded in place."""
    refuse_unsupported(model, processes)
    if processes.parallelism == "single":
        return model
    if processes.parallelism == "ddp":
        from torch.nn.parallel import DistributedDataParallel

        ids = [processes.device.index] if processes.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=False)
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    mesh = init_device_mesh(processes.device.type, (processes.world,))
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    return model


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The patched model inside a DDP wrapper (FSDP2 shards in place: the module is the model)."""
    return getattr(module, "module", module)


@contextlib.contextmanager
def gradient_sync(module: torch.nn.Module, processes: Processes, sync: bool) -> Iterator[None]:
    """Reduce gradients across processes in this backward only when `sync` (the step's last micro-batch)."""
    if processes.parallelism == "ddp" and not sync:
        with module.no_sync():
            yield
        return
    if processes.parallelism == "fsdp":
        module.set_requires_gradient_sync(sync)
    yield


def replica_digests(module: torch.nn.Module, processes: Processes) -> list[str]:
    """sha256 of each process's parameters (DDP: every process holds all of them, and they must be equal).

    Checked at the end of a DDP run: replicas that drifted apart (a non-deterministic op, a rank that
    skipped a step) would otherwise go unnoticed until the published model differs from a rank's."""
    digest = hashlib.sha256()
    for name, param in unwrap(module).named_parameters():
        digest.update(name.encode())
        digest.update(param.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    if processes.world == 1:
        return [digest.hexdigest()]
    gathered: list[str | None] = [None] * processes.world
    dist.all_gather_object(gathered, digest.hexdigest())
    return [str(d) for d in gathered]
