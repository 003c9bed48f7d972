"""`layer-maps` (seeds 000 and 001): duplicate layers of the small trained model without training, score every
map on held-out text, then train the best few briefly.

Scoring is exact and cheap: each map runs the loaded model through `config.layer_map` (no weights copied), and
the identity map is checked to reproduce the unmodified model's loss bit for bit. Training: the unmodified model
(the control: a short run on this corpus moves its loss too), the best maps as copies (each position its own
weights: what a plain depth growth publishes) and the best map tied (its repeated positions share one layer and
its gradients), all for the same steps on the same batches.
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from node.assets.layout import SMALL_MODEL_LLAMA, AssetLayout
from node.modeling.load import load_model_for_eval

from .context import RunContext
from .lab import DataSpec, TextData, TrainSpec, heldout_loss, matmul_parameters, train
from .layer_map_variants import NAMED, LayerMap, insertion_grid, named_maps
from .layer_maps_plots import grid_figure, training_figure, variants_figure
from .mapped_models import mapped, materialised_copy, tied_copy
from .registry import Experiment
from .results import ExperimentResult, markdown_table


@dataclass(frozen=True)
class LayerMapsConfig:
    model_dir: str = ""  # a Llama/Phi3 model folder; "" = the offline SmolLM2-135M (Llama form)
    tokenizer: str = ""  # tokenizer.json path or competition tokenizer name; "" = the model folder's tokenizer.json
    vocab: int = 0  # 0: the tokenizer's own vocabulary (a trained model's); N: compacted to N ids (micro tests)
    heldout_samples: int = 4
    heldout_max_tokens: int = 32
    data_seed: int = 0
    grid_step: int = 10  # insertion grid: every grid_step-th source layer and position (plus the last / the end)
    variants: tuple[str, ...] = tuple(n for n in NAMED if n not in ("repeat-all", "frankenmerge"))
    extra_maps: tuple[str, ...] = ()  # more maps in the growth `--layers` notation, e.g. "0-19,10-29"
    train_top: int = 1  # how many of the best maps to train (as copies)
    train_tied: bool = True  # also train the best map weight-tied
    train_steps: int = 3
    batch_size: int = 1
    seq_len: int = 32
    lr: float = 3e-4
    warmup_steps: int = 1
    seed: int = 0


def _model_dir(config: LayerMapsConfig) -> Path:
    return Path(config.model_dir) if config.model_dir else AssetLayout.default().model_dir(SMALL_MODEL_LLAMA)


def _tokenizer(config: LayerMapsConfig, model_dir: Path) -> str:
    return config.tokenizer or str(model_dir / "tokenizer.json")


def score_maps(model: torch.nn.Module, data: TextData, maps: list[LayerMap], base: float,
               log=print) -> list[dict]:
    """One row per map: held-out loss of the model executing it (tied, no copies) and the change vs `base`."""
    rows = []
    for number, layer_map in enumerate(maps, 1):
        started = time.monotonic()
        with torch.no_grad(), mapped(model, layer_map.layers):
            loss = heldout_loss(model, data)
        rows.append({"kind": "grid" if layer_map.source is not None else "named", "name": layer_map.name,
                     "map": layer_map.spec, "positions": len(layer_map.layers), "source": layer_map.source,
                     "position": layer_map.position, "loss": loss, "delta": loss - base})
        log(f"  [{number}/{len(maps)}] {layer_map.name}: {len(layer_map.layers)} positions, loss {loss:.4f} "
            f"({loss - base:+.4f}) in {time.monotonic() - started:.1f} s")
    return rows


def train_arms(model: torch.nn.Module, data: TextData, best: list[LayerMap], config: LayerMapsConfig,
               ctx: RunContext) -> list[dict]:
    """The control, each of `best` as copies, and `best[0]` tied: same steps, same batches."""
    spec = TrainSpec(steps=config.train_steps, batch_size=config.batch_size, seq_len=config.seq_len, lr=config.lr,
                     warmup_steps=config.warmup_steps, weight_decay=0.0, eval_every=max(1, config.train_steps))
    arms = [("unmodified (control)", "none", None)] + [(m.name, "copies", m) for m in best]
    if config.train_tied and best:
        arms.append((best[0].name, "tied", best[0]))
    rows = []
    for name, kind, layer_map in arms:
        started = time.monotonic()
        if layer_map is None:
            arm = materialised_copy(model, list(range(len(model.model.layers))))
        elif kind == "tied":
            arm = tied_copy(model, layer_map.layers)
        else:
            arm = materialised_copy(model, layer_map.layers)
        stored = sum(p.numel() for p in arm.parameters())
        curve = train(arm, data, spec, config.seed, device=ctx.device)
        rows.append({"kind": "train", "name": name, "map": layer_map.spec if layer_map else "identity",
                     "weights": kind, "positions": arm.config.num_hidden_layers, "parameters": stored,
                     "matmul_parameters": matmul_parameters(arm), "steps": spec.steps,
                     "tokens": curve.tokens[-1], "flops": curve.flops[-1], "loss_before": curve.loss[0],
                     "loss_after": curve.loss[-1]})
        ctx.log(f"  trained {name} ({kind}): {curve.loss[0]:.4f} -> {curve.loss[-1]:.4f} "
                f"in {time.monotonic() - started:.0f} s")
        del arm
        gc.collect()
    return rows


def run(config: LayerMapsConfig, ctx: RunContext) -> ExperimentResult:
    started, load_before = time.monotonic(), os.getloadavg()[0]
    model_dir = _model_dir(config)
    model = load_model_for_eval(model_dir, dtype=torch.float32, device=ctx.device)
    data = TextData.build(DataSpec(tokenizer=_tokenizer(config, model_dir), vocab=config.vocab,
                                   heldout_samples=config.heldout_samples,
                                   heldout_max_tokens=config.heldout_max_tokens, seed=config.data_seed))
    n = len(model.model.layers)
    with torch.no_grad():
        base = heldout_loss(model, data)
    ctx.log(f"{model_dir.name}: {n} layers, base held-out loss {base:.4f} on {len(data.heldout)} samples")
    named = named_maps(n, config.variants, config.extra_maps)
    grid = insertion_grid(n, config.grid_step)
    rows = score_maps(model, data, named + grid, base, ctx.log)
    identity_rows = [r for r in rows if r["map"] == f"0-{n - 1}"]
    identity_exact = all(r["loss"] == base for r in identity_rows)
    by_spec = {m.spec: m for m in named + grid}
    candidates = sorted((r for r in rows if r["map"] != f"0-{n - 1}"), key=lambda r: r["loss"])
    best, seen = [], set()
    for row in candidates:
        if row["map"] not in seen and len(best) < config.train_top:
            best.append(by_spec[row["map"]])
            seen.add(row["map"])
    train_rows = train_arms(model, data, best, config, ctx) if config.train_steps > 0 else []
    wall = time.monotonic() - started
    figures = {"insert-grid": grid_figure(rows, base, n), "variants": variants_figure(rows, named, base)}
    if train_rows:
        figures["training"] = training_figure(train_rows)
    summary = _summary(config, model_dir.name, n, base, rows, train_rows, identity_exact, len(data.heldout),
                       wall, load_before, ctx)
    best_row = candidates[0] if candidates else None
    headline = {"base_loss": base, "identity_exact": identity_exact, "maps": len(rows),
                "best_map": best_row["name"] if best_row else "none",
                "best_delta": best_row["delta"] if best_row else 0.0,
                "maps_better_than_base": sum(1 for r in candidates if r["delta"] < 0), "wall_s": round(wall)}
    if train_rows:
        control = train_rows[0]["loss_after"]
        headline["trained_best_vs_control"] = min(r["loss_after"] for r in train_rows[1:]) - control \
            if len(train_rows) > 1 else 0.0
    return ExperimentResult(rows=rows + train_rows, summary=summary, headline=headline, figures=figures)


def _summary(config, model_name, n, base, rows, train_rows, identity_exact, samples, wall, load_before,
             ctx) -> str:
    named = sorted((r for r in rows if r["kind"] == "named"), key=lambda r: r["loss"])
    grid = sorted((r for r in rows if r["kind"] == "grid"), key=lambda r: r["loss"])
    better = sorted((r for r in rows if r["delta"] < 0 and r["map"] != f"0-{n - 1}"), key=lambda r: r["delta"])
    lines = [
        f"Model: {model_name} ({n} layers), held-out loss in nats per token on {samples} held-out samples of "
        f"{config.heldout_max_tokens} tokens (the validator's `sample_losses`), unmodified: **{base:.4f}**. "
        f"{len(rows)} maps scored without training (weight-tied through `layer_map`); the identity map "
        f"{'reproduces the unmodified loss exactly' if identity_exact else 'does NOT reproduce the unmodified loss'}.",
        "",
        f"**What it says:** {len(better)} of {len(rows) - 1} duplication maps score below the unmodified model"
        + (f" (best: {better[0]['name']}, {better[0]['delta']:+.4f})." if better else
           "; duplicating trained layers without training only costs loss, as seed 000 found."),
    ]
    inner = next((r for r in rows if r["name"].startswith("inner-x2")), None)
    doubled = next((r for r in rows if r["name"] == "all-x2"), None)
    if inner and doubled:
        kept = "keeps it lower" if inner["loss"] < doubled["loss"] else "does not keep it lower"
        lines.append(f"Keeping the first and last layers in place (every inner layer doubled, {inner['delta']:+.4f}) "
                     f"{kept} than doubling them too ({doubled['delta']:+.4f}).")
    if grid:
        lines.append(f"Insertion grid (one copy of source s before position p, every {config.grid_step}th): "
                     f"best {grid[0]['name']} ({grid[0]['delta']:+.4f}), worst {grid[-1]['name']} "
                     f"({grid[-1]['delta']:+.4f}).")
    lines += ["", "Named maps (sorted by loss):", "",
              markdown_table([{**r, "map": _short(r["map"])} for r in named], ["name", "positions", "map", "loss",
                                                                                 "delta"])]
    if train_rows:
        control = train_rows[0]["loss_after"]
        lines += [f"Short training ({config.train_steps} steps x {config.batch_size} x {config.seq_len} tokens, "
                  f"lr {config.lr:g}, same batches for every arm; 'copies' = each position its own weights, "
                  f"'tied' = the map's repeated positions share one layer). The control is the unmodified model "
                  f"trained the same way (after: {control:.4f}):", "",
                  markdown_table(train_rows, ["name", "weights", "positions", "parameters", "loss_before",
                                              "loss_after"])]
    lines.append(f"Run: {wall:.0f} s on {ctx.device} ({torch.get_num_threads()} threads), load average "
                 f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. A negative result is a "
                 "result: at this scale (a few steps, a few hundred held-out tokens) differences under ~0.01 nats "
                 "are noise.")
    return "\n".join(lines)


def _short(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


EXPERIMENT = Experiment(
    name="layer-maps",
    question="which duplication maps (which source layer fills which position) keep the small trained model's "
             "loss, before and after a short training run?",
    config_type=LayerMapsConfig,
    run=run,
)
