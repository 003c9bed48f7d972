"""The `low-rank` figures: final loss against layer parameters and training FLOPs, and every arm's curve."""

from __future__ import annotations

from .lab import Curve
from .results import subplots

COLOURS = {"full": "k", "constant": "tab:blue", "increasing": "tab:green", "decreasing": "tab:red"}
MARKERS = {"all": "o", "attention": "s", "mlp": "^"}


def tradeoff_figure(rows: list[dict]):
    fig, axes = subplots(1, 2, figsize=(12, 4.5))
    for ax, key, label in ((axes[0], "layer_matmul_parameters", "attention + MLP matrix parameters"),
                           (axes[1], "train_flops", "training FLOPs (6 x matmul parameters x tokens)")):
        for row in rows:
            ax.scatter(row[key], row["final_loss"], color=COLOURS[row["schedule"]], marker=MARKERS[row["part"]],
                       s=40)
            ax.annotate(row["arm"], (row[key], row["final_loss"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("held-out loss after training (nats/token)")
        ax.grid(alpha=0.3)
    axes[0].set_title("loss vs parameters (colour: schedule, marker: which matrices)")
    axes[1].set_title("loss vs training compute")
    return fig


def curves_figure(curves: dict[str, Curve]):
    fig, ax = subplots(1, 1, figsize=(7, 4.5))
    for label, curve in curves.items():
        schedule = "full" if label == "full" else label.split(":")[0]
        style = "-" if label == "full" or label.count(":") == 1 else "--"
        ax.plot(curve.tokens[1:], curve.loss[1:], style, color=COLOURS[schedule], label=label, alpha=0.8)
    ax.set_xlabel("training tokens")
    ax.set_ylabel("held-out loss (nats/token)")
    ax.set_title("training curves (same batches for every arm)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig
