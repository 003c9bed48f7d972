"""The shared bench of every experiment: text with a compacted vocabulary, tiny Llama models, a plain
training loop with held-out evaluation by the validator's own loss routine, and FLOP counting.

Why a compacted vocabulary: at hidden 128 a 50k-token head is most of a tiny model's parameters and compute,
so it would measure the head, not the growth. The training stream is tokenised with a real tokenizer (the
validator's rules), the `vocab - 1` most frequent training ids keep their own id (by rank) and every other id
becomes one shared "other" id; held-out text is mapped the same way. Losses are then nats per token over that
vocabulary (comparable between arms of one experiment, not with a validator's numbers for a full model).

FLOPs: 6 x matmul parameters x tokens for training (forward + backward), 2 x for a forward pass; matmul
parameters are every Linear weight, lm_head included, not the embedding lookup; attention's score and value
products are not counted (at these sequence lengths they are a few percent and equal between arms of the
same width). This is the same convention as `scripts/bench_train`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from miner.training.data import heldout_ids, tokenize_for_training, window_rows
from node.data import CorpusSource
from node.data.tokenizer_files import competition_tokenizer_path, load_tokenizer
from node.evaluation import sample_losses


@dataclass(frozen=True)
class DataSpec:
    tokenizer: str = "gpt2"  # a competition tokenizer name or a tokenizer.json path
    vocab: int = 2048  # compacted vocabulary size (0: the tokenizer's own, no compaction)
    heldout_samples: int = 32
    heldout_max_tokens: int = 128  # each held-out sample is cut to this many tokens (speed)
    seed: int = 0  # which held-out samples


@dataclass
class TextData:
    """Training stream and held-out samples, both in the (possibly compacted) model vocabulary."""

    train_tokens: np.ndarray
    heldout: list[tuple[int, ...]]
    vocab_size: int
    id_map: np.ndarray | None = None  # tokenizer id -> model id (None: identity)

    @classmethod
    def build(cls, spec: DataSpec) -> TextData:
        path = spec.tokenizer if spec.tokenizer.endswith(".json") else competition_tokenizer_path(spec.tokenizer)
        tok = load_tokenizer(path, origin="competition")
        full = tok.vocab_size
        samples = list(CorpusSource(None, part="train").all_samples())
        stream = np.fromiter((t for s in tokenize_for_training(samples, tok, full) for t in s), dtype=np.int64)
        held = heldout_ids(tok, full, spec.heldout_samples, spec.seed)
        held = [ids[: spec.heldout_max_tokens] for ids in held if len(ids) >= 2]
        if not spec.vocab:
            return cls(stream.astype(np.int32), [tuple(h) for h in held], full)
        id_map = compaction_map(stream, full, spec.vocab)
        return cls(id_map[stream].astype(np.int32), [tuple(int(i) for i in id_map[list(h)]) for h in held],
                   spec.vocab, id_map)

    def batch(self, seed: int, step: int, batch_size: int, seq_len: int) -> torch.Tensor:
        """[batch_size, seq_len + 1] training windows, a pure function of (seed, step)."""
        return window_rows(self.train_tokens, seed, step, 0, batch_size, seq_len + 1)


def compaction_map(stream: np.ndarray, full_vocab: int, size: int) -> np.ndarray:
    """Tokenizer id -> compact id: the `size - 1` most frequent ids of `stream` by rank (ties by id), the rest
    to `size - 1`."""
    if size < 2:
        raise ValueError(f"a compacted vocabulary needs at least 2 ids, got {size}")
    counts = np.bincount(stream, minlength=full_vocab)
    order = np.lexsort((np.arange(full_vocab), -counts))[: size - 1]
    id_map = np.full(full_vocab, size - 1, dtype=np.int64)
    id_map[order] = np.arange(len(order))
    return id_map


@dataclass(frozen=True)
class ModelShape:
    hidden: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 4
    intermediate: int = 512
    max_positions: int = 512


def tiny_llama(shape: ModelShape, vocab: int, seed: int, **config_overrides):
    """A randomly initialised patched Llama (`transformers_llama`) of `shape`, seeded, fp32."""
    import transformers_llama

    config = transformers_llama.LlamaConfig(
        vocab_size=vocab, hidden_size=shape.hidden, intermediate_size=shape.intermediate,
        num_hidden_layers=shape.layers, num_attention_heads=shape.heads, num_key_value_heads=shape.kv_heads,
        head_dim=shape.hidden // shape.heads, max_position_embeddings=shape.max_positions,
        tie_word_embeddings=False, bos_token_id=None, eos_token_id=None, pad_token_id=None, **config_overrides)
    torch.manual_seed(seed)
    return transformers_llama.LlamaForCausalLM(config).float()


def matmul_parameters(model: torch.nn.Module) -> int:
    """Parameters that take part in a matmul per token: every Linear weight (lm_head included), executed
    once per position (a layer stored once but run at k positions counts k times), not the embedding."""
    total = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            total += module.weight.numel() * executions(model, module)
    return total


def executions(model: torch.nn.Module, module: torch.nn.Module) -> int:
    """How many times `module` runs per token: 1, or the number of `layer_map` positions of its layer."""
    layer_map = getattr(model.config, "layer_map", None)
    if not layer_map:
        return 1
    layers = getattr(getattr(model, "model", None), "layers", None)
    for index, layer in enumerate(layers or []):
        if any(m is module for m in layer.modules()):
            return sum(1 for stored in layer_map if stored == index)
    return 1


def train_flops(model: torch.nn.Module, tokens: int) -> float:
    return 6.0 * matmul_parameters(model) * tokens


def heldout_loss(model: torch.nn.Module, data: TextData) -> float:
    """Mean nats per predicted token on the held-out samples, by `node.evaluation.sample_losses`."""
    was_training = model.training
    model.eval()
    losses = sample_losses(model, list(data.heldout))
    model.train(was_training)
    predicted = sum(len(h) - 1 for h in data.heldout)
    return float(sum(losses) / predicted)


SCHEDULES = ("cosine", "constant")


@dataclass(frozen=True)
class TrainSpec:
    steps: int = 100
    batch_size: int = 8
    seq_len: int = 128
    lr: float = 3e-3
    warmup_steps: int = 10
    weight_decay: float = 0.1
    clip: float = 1.0
    eval_every: int = 25
    schedule: str = "cosine"  # "cosine": warm-up then cosine to 10%; "constant": warm-up then flat

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")


@dataclass
class Curve:
    """Held-out loss against cumulative training tokens and FLOPs (the points of one arm's curve)."""

    tokens: list[int] = field(default_factory=list)
    flops: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)

    def add(self, tokens: int, flops: float, loss: float) -> None:
        self.tokens.append(tokens)
        self.flops.append(flops)
        self.loss.append(loss)


def cosine_lr(step: int, spec: TrainSpec) -> float:
    """Linear warm-up then cosine to 10% of the peak (or flat, `schedule="constant"`: then a curve's loss at
    step s does not depend on how long the run goes on), as a multiplier of `spec.lr`."""
    if step < spec.warmup_steps:
        return (step + 1) / spec.warmup_steps
    if spec.schedule == "constant":
        return 1.0
    progress = (step - spec.warmup_steps) / max(1, spec.steps - spec.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(model: torch.nn.Module, data: TextData, spec: TrainSpec, seed: int, *, curve: Curve | None = None,
          start_tokens: int = 0, start_flops: float = 0.0, parameters: Iterable[torch.nn.Parameter] | None = None,
          device: torch.device | None = None, on_eval: Callable[[int, float], None] | None = None,
          data_step_offset: int = 0) -> Curve:
    """`spec.steps` AdamW steps on training windows drawn by (seed, step); held-out loss before the first step
    and every `eval_every` steps and at the end, appended to `curve` with cumulative tokens and FLOPs
    (`start_*` carry a previous phase's totals, e.g. the small model's before growth). `parameters`: train only
    these (adapters); FLOPs still count the whole model's forward and backward. `data_step_offset`: draw the
    windows of steps `offset..offset+steps-1`, so a phase after growth continues the data stream instead of
    replaying the windows of the phase before it."""
    device = device or torch.device("cpu")
    model.to(device).train()
    curve = curve if curve is not None else Curve()
    params = [p for p in (parameters if parameters is not None else model.parameters()) if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    rest = [p for p in params if p.ndim < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": spec.weight_decay},
                                   {"params": rest, "weight_decay": 0.0}], lr=spec.lr, betas=(0.9, 0.95))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: cosine_lr(s, spec))
    per_step = spec.batch_size * spec.seq_len
    step_flops = train_flops(model, per_step)

    def evaluate(step: int) -> None:
        loss = heldout_loss(model, data)
        curve.add(start_tokens + step * per_step, start_flops + step * step_flops, loss)
        if on_eval:
            on_eval(step, loss)

    evaluate(0)
    for step in range(spec.steps):
        batch = data.batch(seed, data_step_offset + step, spec.batch_size, spec.seq_len).to(device)
        with (torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()):
            logits = model(input_ids=batch[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, spec.clip)
        optimizer.step()
        scheduler.step()
        if (step + 1) % spec.eval_every == 0 or step + 1 == spec.steps:
            evaluate(step + 1)
    model.eval()
    return curve



def tokens_to_reach(curve: Curve, target: float) -> float | None:
    """Training tokens at which `curve` first reaches `target` (linear interpolation between evaluations);
    None if it never does."""
    for i, loss in enumerate(curve.loss):
        if loss <= target:
            if i == 0:
                return float(curve.tokens[0])
            t0, t1, l0, l1 = curve.tokens[i - 1], curve.tokens[i], curve.loss[i - 1], loss
            return float(t0 + (t1 - t0) * (l0 - target) / (l0 - l1)) if l0 != l1 else float(t1)
    return None
