"""Sliced evaluation: a model larger than memory is run one range of layers at a time.

Slice k's weights are loaded alone (straight from the safetensors shards), every batch runs through
it, the hidden states are parked on the CPU, the slice is freed. Slice k+1 is read by a background
thread while slice k computes, so with weights in the page cache the sliced run costs little more
than the full one; at most two slices are resident. Batches are the same as in the full path, so the
per-sample losses are the same numbers.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from node.modeling import read_model_config
from node.modeling.families import family_for_config

from .loss import LossLayout, batch_cost, check_token_ids, make_batches, scatter, summed_ce
from .workers import run_parallel


def even_slices(num_positions: int, num_slices: int) -> list[tuple[int, int]]:
    """Split executed positions into `num_slices` contiguous ranges of near-equal size."""
    num_slices = max(1, min(num_slices, num_positions))
    bounds = [round(i * num_positions / num_slices) for i in range(num_slices + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


@torch.no_grad()
def sliced_sample_losses(
    checkpoint_dir: str | Path,
    samples: Sequence[Sequence[int]],
    num_slices: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
    layout: LossLayout | None = None,
    attn_implementation: str = "sdpa",
) -> list[float]:
    config = read_model_config(checkpoint_dir)
    cls = family_for_config(config).causal_lm_class
    layout = layout or LossLayout.for_device(device)
    check_token_ids(samples, config.vocab_size)
    batches = make_batches(samples, layout.max_batch_tokens)
    parked: list[torch.Tensor | None] = [None] * len(batches)
    losses = [float("inf")] * len(samples)
    ranges = even_slices(config.num_hidden_layers, num_slices)

    def load(layer_range: tuple[int, int]):
        return cls.from_pretrained_slice(checkpoint_dir, layer_range, dtype=dtype, device=device,
                                         attn_implementation=attn_implementation)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="slice-prefetch") as prefetcher:
        upcoming = prefetcher.submit(load, ranges[0])
        for index, (start, stop) in enumerate(ranges):
            part = upcoming.result()
            if index + 1 < len(ranges):
                upcoming = prefetcher.submit(load, ranges[index + 1])
            _run_slice(part, batches, parked, losses, (start, stop), config.num_hidden_layers, device, layout)
            del part
            gc.collect()
    return losses


def _run_slice(part, batches, parked, losses, layer_range, num_positions, device, layout: LossLayout) -> None:
    """Every batch through one slice: park hidden states, or score them on the last slice."""
    start, stop = layer_range

    def run(number: int) -> None:  # no_grad comes from the caller; run_parallel carries it into workers
        batch = batches[number]
        inputs = {"layer_range": (start, stop)}
        if start == 0:
            inputs["input_ids"] = batch.inputs.to(device)
        else:
            inputs["inputs_embeds"] = parked[number].to(device)
        hidden = part.model(**inputs).last_hidden_state
        if stop == num_positions:
            scatter(losses, batch, summed_ce(part, hidden, batch, layout))
            parked[number] = None
        else:
            parked[number] = hidden.to("cpu")

    run_parallel(run, range(len(batches)), layout.workers, cost=lambda number: batch_cost(batches[number]))
