"""The report's figures, drawn with matplotlib's Agg backend (no display needed) into PNG bytes of a fixed size.

Every figure is `WIDTH x HEIGHT` pixels exactly (no tight bounding box), so the page can give each `<img>` its
size up front and a test can check what it received. A figure with nothing to show says so in its middle
instead of being left empty.
"""

from __future__ import annotations

import io
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
from matplotlib.ticker import MaxNLocator  # noqa: E402

from node import display  # noqa: E402

WIDTH, HEIGHT, DPI = 960, 480, 100


def _figure(rows: int = 1, cols: int = 1):
    fig, axes = plt.subplots(rows, cols, figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI, squeeze=False,
                             layout="constrained")
    return fig, axes


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    plt.close(fig)
    return buffer.getvalue()


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", fontsize=14, color="0.4", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _label(competition: str, hotkey: str) -> str:
    return f"{competition} {display.short_hotkey(hotkey)}"


def win_rates_and_weights(history: Sequence[Mapping[str, object]]) -> bytes:
    """Top: each model's win rate per round. Bottom: its moving-average weight (solid) and round weight (dotted)."""
    fig, axes = _figure(2, 1)
    top, bottom = axes[0][0], axes[1][0]
    series: dict[tuple[str, str], list[tuple[int, float, float, float | None]]] = defaultdict(list)
    for row in history:
        key = (str(row["competition"]), str(row["hotkey"]))
        ema = row["ema"]
        series[key].append((int(row["round_block"]), float(row["win_rate"]), float(row["weight"]),  # type: ignore[arg-type]
                            None if ema is None else float(ema)))  # type: ignore[arg-type]
    if not series:
        _empty(top, "scored rounds")
        _empty(bottom, "weights")
        return _png(fig)
    for index, (key, points) in enumerate(sorted(series.items())):
        color = f"C{index % 10}"
        blocks = [p[0] for p in points]
        top.plot(blocks, [p[1] for p in points], marker="o", color=color, label=_label(*key))
        bottom.plot(blocks, [p[2] for p in points], linestyle=":", marker=".", color=color)
        with_ema = [(p[0], p[3]) for p in points if p[3] is not None]
        bottom.plot([b for b, _ in with_ema], [v for _, v in with_ema], marker="o", color=color)
    top.set_ylabel("win rate")
    top.set_ylim(-0.05, 1.05)
    top.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    bottom.set_ylabel("weight (avg solid, round dotted)")
    bottom.set_xlabel("round block")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _png(fig)


def loss_distributions(samples: Mapping[tuple[str, str], Sequence[float]], block: int | None) -> bytes:
    """One box per model: the loss per token of each of the last round's samples."""
    fig, axes = _figure()
    ax = axes[0][0]
    keys = [k for k in sorted(samples) if samples[k]]
    if not keys:
        _empty(ax, "evaluated samples")
        return _png(fig)
    ax.boxplot([list(samples[k]) for k in keys], tick_labels=[_label(*k) for k in keys], showmeans=True)
    ax.set_ylabel("loss per token (nats)")
    ax.set_title(f"per-sample loss, round {block}")
    ax.tick_params(axis="x", labelrotation=20, labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def frontier(points: Sequence[Mapping[str, object]]) -> bytes:
    """Loss per token against stored parameters for every scored model; the line is each competition's frontier
    (the lowest loss reached at that size or smaller)."""
    fig, axes = _figure()
    ax = axes[0][0]
    if not points:
        _empty(ax, "scored models")
        return _png(fig)
    by_competition: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for p in points:
        by_competition[str(p["competition"])].append((int(p["parameters"]), float(p["mean_loss"])))  # type: ignore[arg-type]
    for index, (competition, pairs) in enumerate(sorted(by_competition.items())):
        color = f"C{index % 10}"
        pairs.sort()
        ax.scatter([x for x, _ in pairs], [y for _, y in pairs], color=color, label=competition, zorder=3)
        best, line = math.inf, []
        for x, y in pairs:
            best = min(best, y)
            line.append((x, best))
        ax.step([x for x, _ in line], [y for _, y in line], where="post", color=color, alpha=0.6)
    ax.set_xscale("log")
    ax.set_xlabel("stored parameters")
    ax.set_ylabel("loss per token (nats)")
    ax.legend(title="competition")
    ax.grid(alpha=0.3, which="both")
    return _png(fig)


def round_durations(rounds: Sequence[Mapping[str, object]]) -> bytes:
    """Wall time of each finished round, and the part spent inside the evaluation process."""
    fig, axes = _figure()
    ax = axes[0][0]
    done = [r for r in rounds if r["state"] == "done" and r["seconds"] is not None]
    if not done:
        _empty(ax, "finished rounds")
        return _png(fig)
    positions = list(range(len(done)))
    ax.bar([x - 0.2 for x in positions], [float(r["seconds"]) for r in done], width=0.4,  # type: ignore[arg-type]
           label="round (wall)")
    ax.bar([x + 0.2 for x in positions], [float(r["eval_seconds"]) for r in done], width=0.4,  # type: ignore[arg-type]
           label="evaluation")
    ax.set_xticks(positions, [str(r["block"]) for r in done], fontsize=8)
    ax.set_xlabel("round block")
    ax.set_ylabel("seconds")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
