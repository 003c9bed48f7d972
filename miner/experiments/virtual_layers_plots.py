"""The virtual-layers figures: held-out loss curves per arm, and the parameter / memory footprint per arm."""

from __future__ import annotations

from typing import Any

import numpy as np

from .results import subplots


def curves_figure(results: dict[str, dict[str, Any]], base_loss: float):
    """Held-out loss against adapter-training tokens for every arm, with the small model's loss for scale."""
    figure, axis = subplots(figsize=(7, 4.5))
    styles = {"virtual": "-", "copied": "--"}
    for arm, result in results.items():
        curve, form = result["curve"], result["measured"]["form"]
        axis.plot(curve.tokens, curve.loss, styles[form], marker="o", markersize=3, label=arm)
    axis.axhline(base_loss, color="grey", linestyle=":", label="small model before growth")
    axis.set_xlabel("adapter-training tokens")
    axis.set_ylabel("held-out loss (nats/token)")
    axis.set_title("adapters only: virtual (solid) vs copied (dashed) layers")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    return figure


def footprint_figure(results: dict[str, dict[str, Any]]):
    """Bars per arm: stored and trainable parameters; stored, training-state and activation megabytes."""
    measured = [r["measured"] for r in results.values()]
    arms = [m["arm"] for m in measured]
    x = np.arange(len(arms))
    figure, (params, memory) = subplots(1, 2, figsize=(12, 4.5))
    params.bar(x - 0.2, [m["stored_params"] for m in measured], 0.4, label="stored (tied layers once)")
    params.bar(x + 0.2, [m["trainable_params"] for m in measured], 0.4, label="trainable (adapters)")
    params.set_yscale("log")
    params.set_title("parameters")
    keys = [("stored_mb", "stored weights"), ("train_state_mb", "grad + AdamW state"),
            ("activation_mb", "saved activations (1 step)")]
    if all("cuda_peak_mb" in m for m in measured):
        keys.append(("cuda_peak_mb", "CUDA peak allocated"))
    width = 0.8 / len(keys)
    for i, (key, label) in enumerate(keys):
        memory.bar(x + (i - (len(keys) - 1) / 2) * width, [m[key] for m in measured], width, label=label)
    memory.set_title("memory (MB, counted from tensors)")
    for axis in (params, memory):
        axis.set_xticks(x, arms, rotation=30, ha="right", fontsize=8)
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    return figure
