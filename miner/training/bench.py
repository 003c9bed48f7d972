"""Training benchmark: tokens/s and achieved FLOP/s as a share of this machine's matmul throughput.

For a tiny random Llama and the small trained model (SmolLM2-135M from the assets), in fp32 on the
CPU, through the training loop's own `train_step` (forward, backward, clipping, AdamW): median step
time over a few steps after one warm-up step. Batches are random token ids (the data pipeline is not
what is measured; its cost per step is a few windows of a numpy array).

FLOPs: 6 x matmul parameters x tokens, where matmul parameters are every weight matrix a token is
multiplied by: all projections and `lm_head` (counted once even when tied to the embedding), not the
embedding lookup, not norms. Attention's score and value products (QK^T and AV) are NOT counted in
the headline; they are printed separately as 6 x layers x seq_len x heads x head_dim per token (the
causal half of 2 x 2 x seq x d forward, times 3 for forward + backward). The ceiling is the fp32
throughput of a 2048^3 matmul with the same threads, measured right before each timed step (best
of two), so each step is compared with the machine as it was then; the share reported is the median
over steps of these per-step ratios. Rows run in alternating rounds.

Threads: as many as there are free cores (cores minus the 1-minute load average, at least 1): an
oversubscribed core halves the throughput of every thread's GEMM, so using busy cores only adds noise.
Rows compare fused AdamW (what training uses) with the foreach implementation on the tiny model.
The profile groups `torch.profiler` self-CPU time by op class. Ends with one `key=value` line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil
import torch

from node.evaluation.reference import matmul_flops_per_second

from .config import TrainConfig
from .distributed import Processes
from .loop import Phase, load_phase, train_step

SINGLE = Processes(0, 1, 0, torch.device("cpu"), "single")
TINY = dict(vocab_size=4096, hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4,
            num_key_value_heads=4, head_dim=64, max_position_embeddings=1024)
OP_CLASSES = (  # (class, substrings of aten op names), first match wins
    ("matmul", ("mm", "addmm", "bmm", "matmul", "linear")),
    ("attention", ("attention", "flash")),
    ("optimizer", ("adam", "_foreach", "linalg_vector_norm")),
    ("log-softmax / CE", ("log_softmax", "nll_loss", "cross_entropy", "logsumexp")),
    ("copies / layout", ("copy_", "clone", "contiguous", "to_copy", "cat", "transpose", "view", "reshape", "t",
                         "expand", "slice", "index", "embedding")),
)


class RandomBatches:
    """[batch, seq_len + 1] random ids, seeded by (step, index) like the real stream."""

    def __init__(self, vocab: int, batch: int, seq_len: int) -> None:
        self.vocab, self.batch_size, self.seq_len = vocab, batch, seq_len

    def batch(self, step: int, index: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(step * 1000 + index)
        return torch.randint(0, self.vocab, (self.batch_size, self.seq_len + 1), generator=generator)


def free_cores() -> tuple[int, float, float]:
    """(cores to use, 1-minute load average, CPU busy % over the last second)."""
    cores = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    busy_percent = psutil.cpu_percent(interval=1.0)
    load = os.getloadavg()[0]
    return max(1, min(cores, round(cores - max(load, busy_percent / 100 * cores)))), load, busy_percent


def matmul_parameters(model: torch.nn.Module) -> int:
    """Every weight matrix a token is multiplied by: projections and lm_head, not the embedding lookup."""
    total = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2 and "embed_tokens" not in n)
    if model.config.tie_word_embeddings:
        total += model.lm_head.weight.numel()  # the tied head multiplies by the embedding matrix
    return total


def attention_flops_per_token(config, seq_len: int) -> float:
    return 6.0 * config.num_hidden_layers * seq_len * config.num_attention_heads * config.head_dim


def op_class(name: str) -> str:
    """`mm` -> matmul, `_fused_adamw_` -> optimizer, ...: exact names, `name_*` variants, or (long keys) substrings."""
    for kind, keys in OP_CLASSES:
        if any(name == k or name.startswith(k + "_") or (len(k) > 3 and k in name) for k in keys):
            return kind
    return "elementwise / other"


def op_profile(phase: Phase, batches: RandomBatches, config: TrainConfig) -> dict[str, float]:
    """Share of self-CPU time per op class over one training step."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        train_step(phase, batches, 99, SINGLE, config, contextlib.nullcontext())
    by_class: dict[str, float] = defaultdict(float)
    for event in prof.key_averages():
        name = event.key.removeprefix("aten::")
        if not event.key.startswith("aten::"):
            continue  # python-level and autograd wrapper ranges: their aten children carry the time
        by_class[op_class(name)] += event.self_cpu_time_total
    total = sum(by_class.values()) or 1.0
    return {kind: 100 * t / total for kind, t in sorted(by_class.items(), key=lambda kv: -kv[1])}


@dataclass
class Row:
    """One (model, optimiser) configuration and what was measured for it."""

    model: str
    optimizer: str
    phase: Phase
    batches: RandomBatches
    config: TrainConfig
    matmul_params: int
    attention_per_token: float
    times: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # achieved matmul FLOP/s / ceiling measured just before
    ceilings: list[float] = field(default_factory=list)
    profile: dict[str, float] | None = None

    @property
    def tokens(self) -> int:
        return self.config.micro_batch_size * self.config.seq_len

    def step(self, step: int) -> float:
        started = time.perf_counter()
        train_step(self.phase, self.batches, step, SINGLE, self.config, contextlib.nullcontext())
        return time.perf_counter() - started


def model_rows(name: str, model_dir: Path, batch: int, seq_len: int, optimisers: tuple[str, ...]) -> list[Row]:
    """A row per optimiser, all on one loaded model (each row has its own AdamW over the same parameters)."""
    config = TrainConfig(model=str(model_dir), out_dir="unused", micro_batch_size=batch, seq_len=seq_len,
                         grad_clip=1.0, eval_every=-1)
    phase = load_phase(model_dir, config, SINGLE, 0, None)
    batches = RandomBatches(phase.model.config.vocab_size, batch, seq_len)
    rows = []
    for kind in optimisers:
        groups = [{"params": g["params"], "weight_decay": g["weight_decay"]} for g in phase.optimiser.param_groups]
        optimiser = torch.optim.AdamW(groups, lr=config.lr, fused=kind == "fused" or None,
                                      foreach=kind == "foreach" or None)
        rows.append(Row(name, kind, replace(phase, optimiser=optimiser), batches, config,
                        matmul_parameters(phase.model), attention_flops_per_token(phase.model.config, seq_len)))
    return rows


def measure(rows: list[Row], steps: int) -> None:
    """Rounds over the rows (so a change of load hits every row alike); in each, the matmul ceiling right
    before each step. Step 0 of each row warms up (allocator, kernels) and is not kept."""
    for row in rows:
        row.step(0)
    for step in range(1, steps + 1):
        for row in rows:
            ceiling = matmul_flops_per_second(2048, repeats=2)
            seconds = row.step(step)
            row.times.append(seconds)
            row.ceilings.append(ceiling)
            row.ratios.append(6.0 * row.matmul_params * row.tokens / seconds / ceiling)
    for name in dict.fromkeys(r.model for r in rows):  # one profile per model, with the training optimiser
        row = next(r for r in rows if r.model == name)
        row.profile = op_profile(row.phase, row.batches, row.config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=4, help="timed steps per row (after one warm-up step)")
    parser.add_argument("--tiny-batch", type=int, default=8)
    parser.add_argument("--tiny-seq", type=int, default=256)
    parser.add_argument("--small-batch", type=int, default=4)
    parser.add_argument("--small-seq", type=int, default=128)
    parser.add_argument("--threads", type=int, help="default: free cores")
    parser.add_argument("--skip-small", action="store_true", help="tiny model only (no assets needed)")
    args = parser.parse_args(argv)

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    threads, load, busy = free_cores()
    threads = args.threads or threads
    torch.set_num_threads(threads)
    print(f"machine: {psutil.cpu_count()} cores, load average {load:.2f}, {busy:.0f}% busy -> {threads} threads",
          flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        import transformers_llama

        torch.manual_seed(0)
        tiny_dir = Path(tmp) / "tiny"
        transformers_llama.LlamaForCausalLM(transformers_llama.LlamaConfig(**TINY)).save_pretrained(tiny_dir)
        rows += model_rows("tiny", tiny_dir, args.tiny_batch, args.tiny_seq, ("fused", "foreach"))
    small_name = "smollm2-135m"
    if not args.skip_small:
        from node.assets.layout import AssetLayout

        small_dir = AssetLayout.default().model_dir("smollm2-135m-llama")
        if not (small_dir / "config.json").is_file():
            raise SystemExit(f"{small_dir} missing: build the assets (python -m node.assets build) or --skip-small")
        rows += model_rows(small_name, small_dir, args.small_batch, args.small_seq, ("fused",))
    measure(rows, args.steps)

    print(f"{'model':14} {'optimizer':9} {'matmul M':>9} {'tokens':>7} {'tokens/s':>9} {'step s':>7} "
          f"{'ceiling GF/s':>12} {'% matmul':>9} {'+attention':>10}")
    for r in rows:
        seconds, ceiling, pct = (statistics.median(v) for v in (r.times, r.ceilings, r.ratios))
        print(f"{r.model:14} {r.optimizer:9} {r.matmul_params / 1e6:9.1f} {r.tokens:7d} {r.tokens / seconds:9.0f} "
              f"{seconds:7.2f} {ceiling / 1e9:12.1f} {100 * pct:8.1f}% "
              f"{100 * r.attention_per_token * r.tokens / seconds / ceiling:9.1f}%")
    for r in rows:
        if r.profile is not None:
            shares = ", ".join(f"{k} {v:.0f}%" for k, v in r.profile.items())
            print(f"where the time goes ({r.model}, one step, self CPU time): {shares}")
    load_after = os.getloadavg()[0]
    tiny = next(r for r in rows if r.model == "tiny" and r.optimizer == "fused")
    main_row = next((r for r in rows if r.model == small_name), tiny)

    def summary(row: Row) -> tuple[float, float]:
        return 100 * statistics.median(row.ratios), row.tokens / statistics.median(row.times)

    (main_pct, main_tps), (tiny_pct, tiny_tps) = summary(main_row), summary(tiny)
    print(f"train_pct={main_pct:.1f} tokens_per_s={main_tps:.0f} model={main_row.model} tiny_pct={tiny_pct:.1f} "
          f"tiny_tokens_per_s={tiny_tps:.0f} threads={threads} load={load:.2f}/{load_after:.2f}")
    return 0
