"""The `layer-maps` figures: the insertion grid as a heatmap, the named maps drawn as the seed drew them (one row
per map, each cell coloured by the source layer at that position) beside their loss change, and the short
training run's before / after losses."""

from __future__ import annotations

import numpy as np

from .layer_map_variants import LayerMap
from .results import subplots


def grid_figure(rows: list[dict], base: float, n: int):
    """Loss change vs the unmodified model for each (source layer, insertion position) of the grid."""
    grid = [r for r in rows if r["kind"] == "grid"]
    sources = sorted({r["source"] for r in grid})
    positions = sorted({r["position"] for r in grid})
    values = np.full((len(sources), len(positions)), np.nan)
    for r in grid:
        values[sources.index(r["source"]), positions.index(r["position"])] = r["delta"]
    fig, ax = subplots(1, 1, figsize=(1.0 + 0.7 * len(positions), 1.2 + 0.5 * len(sources)))
    image = ax.imshow(values, cmap="viridis", aspect="auto", origin="lower")
    for i in range(len(sources)):
        for j in range(len(positions)):
            if not np.isnan(values[i, j]):
                ax.text(j, i, f"{values[i, j]:+.3f}", ha="center", va="center", fontsize=7, color="w")
    ax.set_xticks(range(len(positions)), [str(p) for p in positions])
    ax.set_yticks(range(len(sources)), [str(s) for s in sources])
    ax.set_xlabel(f"inserted before position (of {n}; {n} = after the last layer)")
    ax.set_ylabel("source layer duplicated")
    ax.set_title(f"one duplicated layer, no training: held-out loss change (base {base:.3f})")
    fig.colorbar(image, ax=ax, label="loss - base (nats/token)")
    return fig


def variants_figure(rows: list[dict], maps: list[LayerMap], base: float):
    """Left: which source layer runs at each position (seed 000's heatmap); right: the loss change of each map."""
    by_name = {r["name"]: r for r in rows if r["kind"] == "named"}
    ordered = sorted(maps, key=lambda m: by_name[m.name]["loss"])
    width = max(len(m.layers) for m in ordered)
    cells = np.full((len(ordered), width), np.nan)
    for i, layer_map in enumerate(ordered):
        cells[i, : len(layer_map.layers)] = layer_map.layers
    fig, (left, right) = subplots(1, 2, figsize=(13, 1.0 + 0.45 * len(ordered)),
                                 gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    image = left.imshow(cells, cmap="viridis", aspect="auto", interpolation="nearest")
    left.set_yticks(range(len(ordered)), [m.name for m in ordered])
    left.set_xlabel("executed position")
    left.set_title("source layer at each position")
    fig.colorbar(image, ax=left, label="source layer", pad=0.01)
    deltas = [by_name[m.name]["delta"] for m in ordered]
    right.barh(range(len(ordered)), deltas, color=["tab:green" if d <= 0 else "tab:red" for d in deltas])
    for i, d in enumerate(deltas):
        right.text(d, i, f" {d:+.3f}", va="center", fontsize=7)
    right.axvline(0, color="k", lw=0.8)
    right.set_xlabel(f"loss - base ({base:.3f}), no training")
    return fig


def training_figure(train_rows: list[dict]):
    """Held-out loss before and after the short run, per arm."""
    labels = [f"{r['name']}\n({r['weights']}, {r['positions']} positions)" for r in train_rows]
    x = np.arange(len(train_rows))
    fig, ax = subplots(1, 1, figsize=(2.0 + 2.2 * len(train_rows), 4))
    ax.bar(x - 0.2, [r["loss_before"] for r in train_rows], 0.4, label="before")
    ax.bar(x + 0.2, [r["loss_after"] for r in train_rows], 0.4, label="after")
    low = min(min(r["loss_before"], r["loss_after"]) for r in train_rows)
    high = max(max(r["loss_before"], r["loss_after"]) for r in train_rows)
    ax.set_ylim(low - 0.1 * (high - low + 1e-3), high + 0.1 * (high - low + 1e-3))
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_ylabel("held-out loss (nats/token)")
    ax.set_title(f"short training run ({train_rows[0]['steps']} steps, same batches)")
    ax.legend()
    return fig
