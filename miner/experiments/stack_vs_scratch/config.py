"""The stack-vs-scratch configuration and its FLOP budget.

The budget is stated as `budget_steps`: the training steps of the target-size model that the compute buys.
Both arms of one growth factor get that compute: the scratch arm spends it all on the target model; the
stacked arm spends `small_steps` of it on the small model (6 x its matmul parameters x tokens, so a small
step is cheaper) and the rest on the grown model, rounded to whole steps (the two arms then differ by less
than half a target step, which the results report).
"""

from __future__ import annotations

from dataclasses import dataclass

from miner.experiments.lab import SCHEDULES, DataSpec, ModelShape, TrainSpec
from miner.growth import LayerSpecError, parse_layer_spec

OPERATORS = ("stack", "stack_exact", "interpolate", "partial", "identity")


@dataclass(frozen=True)
class StackVsScratchConfig:
    # data (lab.DataSpec)
    tokenizer: str = "gpt2"
    vocab: int = 1024
    heldout_samples: int = 16
    heldout_max_tokens: int = 128
    data_seed: int = 0
    # the small model; the target of factor g has small_layers * g layers of the same width
    hidden: int = 64
    intermediate: int = 256
    heads: int = 4
    kv_heads: int = 4
    small_layers: int = 2
    factors: tuple[int, ...] = (2, 4)
    seeds: tuple[int, ...] = (0, 1, 2)
    # training (lab.TrainSpec); every phase uses the same settings
    batch_size: int = 8
    seq_len: int = 64
    lr: float = 3e-3
    warmup_steps: int = 10
    weight_decay: float = 0.1
    schedule: str = "constant"
    eval_every: int = 8
    # budget
    small_steps: int = 32
    budget_steps: int = 80
    scratch_horizon: float = 1.5
    # depth operators compared at one factor
    operators: tuple[str, ...] = OPERATORS
    operator_factor: int = 2
    partial_spec: str = "0,1*3"

    def __post_init__(self) -> None:
        for name in ("vocab", "hidden", "intermediate", "heads", "kv_heads", "small_layers", "batch_size",
                     "seq_len", "eval_every", "small_steps", "budget_steps", "heldout_samples"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.factors or any(f < 2 for f in self.factors):
            raise ValueError(f"factors must be growth factors >= 2, got {list(self.factors)}")
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds must be distinct, got {list(self.seeds)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.budget_steps % self.eval_every:
            raise ValueError(f"eval_every ({self.eval_every}) must divide budget_steps ({self.budget_steps}) so the "
                             "scratch arm is evaluated exactly at the budget")
        if self.scratch_horizon < 1.0:
            raise ValueError(f"scratch_horizon must be >= 1 (the scratch arm runs at least the budget), "
                             f"got {self.scratch_horizon}")
        unknown = sorted(set(self.operators) - set(OPERATORS))
        if unknown:
            raise ValueError(f"unknown depth operator(s) {unknown}; known: {list(OPERATORS)}")
        if self.operators and "partial" in self.operators:
            try:
                picks = parse_layer_spec(self.partial_spec, self.small_layers)
            except LayerSpecError as exc:
                raise ValueError(f"partial_spec: {exc}") from exc
            if len(picks) != self.small_layers * self.operator_factor:
                raise ValueError(f"partial_spec {self.partial_spec!r} has {len(picks)} positions; operator_factor "
                                 f"{self.operator_factor} x {self.small_layers} layers needs "
                                 f"{self.small_layers * self.operator_factor}")
        for factor in self.factors:
            budget_plan(self, factor)  # raises if the small phase does not fit in the budget

    @property
    def data(self) -> DataSpec:
        return DataSpec(self.tokenizer, self.vocab, self.heldout_samples, self.heldout_max_tokens, self.data_seed)

    def shape(self, layers: int) -> ModelShape:
        return ModelShape(self.hidden, layers, self.heads, self.kv_heads, self.intermediate,
                          max(512, self.seq_len + 1, self.heldout_max_tokens))

    def train_spec(self, steps: int) -> TrainSpec:
        return TrainSpec(steps=steps, batch_size=self.batch_size, seq_len=self.seq_len, lr=self.lr,
                         warmup_steps=self.warmup_steps, weight_decay=self.weight_decay, clip=1.0,
                         eval_every=self.eval_every, schedule=self.schedule)

    @property
    def tokens_per_step(self) -> int:
        return self.batch_size * self.seq_len


def shape_matmul_parameters(hidden: int, intermediate: int, heads: int, kv_heads: int, layers: int,
                            vocab: int) -> int:
    """Matmul parameters of a Llama of this shape by formula (what `lab.matmul_parameters` counts on the
    module): per layer q and o (hidden^2 each), k and v (hidden x kv_heads x head_dim each), gate, up and
    down (hidden x intermediate each); plus the untied head (hidden x vocab). Norms and embedding excluded."""
    head_dim = hidden // heads
    per_layer = 2 * hidden * hidden + 2 * hidden * kv_heads * head_dim + 3 * hidden * intermediate
    return layers * per_layer + hidden * vocab


@dataclass(frozen=True)
class BudgetPlan:
    """One factor's steps and FLOPs: both arms' totals, the small phase counted in the stacked arm's."""

    factor: int
    small_params: int
    target_params: int
    tokens_per_step: int
    small_steps: int
    grown_steps: int
    budget_steps: int
    scratch_steps: int

    @property
    def small_flops(self) -> float:
        return 6.0 * self.small_params * self.tokens_per_step * self.small_steps

    @property
    def stacked_flops(self) -> float:
        return self.small_flops + 6.0 * self.target_params * self.tokens_per_step * self.grown_steps

    @property
    def budget_flops(self) -> float:
        return 6.0 * self.target_params * self.tokens_per_step * self.budget_steps

    @property
    def stacked_tokens(self) -> int:
        return self.tokens_per_step * (self.small_steps + self.grown_steps)

    @property
    def budget_tokens(self) -> int:
        """Tokens the budget buys for the target model (what the scratch arm has seen at the budget)."""
        return self.tokens_per_step * self.budget_steps


def budget_plan(config: StackVsScratchConfig, factor: int) -> BudgetPlan:
    small = shape_matmul_parameters(config.hidden, config.intermediate, config.heads, config.kv_heads,
                                    config.small_layers, config.vocab)
    target = shape_matmul_parameters(config.hidden, config.intermediate, config.heads, config.kv_heads,
                                     config.small_layers * factor, config.vocab)
    grown = round(config.budget_steps - config.small_steps * small / target)
    if grown < 1:
        raise ValueError(f"small_steps {config.small_steps} use the whole budget of {config.budget_steps} target "
                         f"steps at factor {factor}; nothing is left to train the grown model")
    return BudgetPlan(factor, small, target, config.tokens_per_step, config.small_steps, grown,
                      config.budget_steps, round(config.budget_steps * config.scratch_horizon))
