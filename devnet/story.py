"""The devnet's phases, in order: what each miner does, when the clock moves, when the validator is waited for.

1. network: chain, hub, wallets; one validator (staked, permitted) and four miners registered.
2. the validator daemon starts (it waits for a round block).
3. seed publishes the small trained model (SmolLM2-135M): the incumbent.
4. round 1 (seed only): the incumbent gets all the weight.
5. trainer grows it (identity layers inserted), `verify-growth` certifies the loss is unchanged, trains briefly
   and publishes; `publish` compares it with the incumbent on the same held-out samples (before vs after).
   `--force` everywhere after the seed: a model that does not beat the incumbent is still published, so the run
   ends with the validator's verdict and a summary naming the claim that failed rather than stopping midway.
6. grower grows it another way (wider MLP), certifies it, and publishes without training (`--force`: equal loss
   does not beat the incumbent's advantage), naming the incumbent as its parent.
7. copier re-uploads the trainer's files under its own hotkey (`--force`).
8. more rounds: the validator evaluates all of them and moves the weight; then it is stopped (SIGTERM).
Each phase prints one line with the elapsed time; each command's output goes to `<run>/logs/<name>.log`.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from node.assets.layout import SMALL_MODEL_LLAMA, AssetLayout
from node.identity import select_model_files
from validator.state.queries import NoState, StateView, state_file

from . import commands
from .config import DevnetConfig
from .network import RunFolder, advance_to_round, create_network
from .processes import Child, Children, sleep_until

_COMPARISON = re.compile(r"candidate ([0-9.]+|n/a) vs best ([0-9.]+|n/a) nats/token")
_MAX_DLOSS = re.compile(r"max \|dloss\| = ([0-9.eE+-]+)")
_PUBLISHED = re.compile(r"published (\S+) at block (\d+)")


@dataclass
class MinerResult:
    """What one miner did, as its commands printed it (the validator's view is read from its state later)."""

    pointer: str | None = None
    growth_max_dloss: float | None = None  # verify-growth: max |dloss| per sample, parent vs grown child
    candidate_loss: float | None = None  # publish's comparison: this model ...
    incumbent_loss: float | None = None  # ... against the current best, same samples, nats/token
    train_seconds: float | None = None
    train_heldout: float | None = None  # the trainer's own held-out loss at the end (nats/token)


@dataclass
class Story:
    """One run of the phases; `phase` says where it is (for the interrupt message)."""

    run: RunFolder
    config: DevnetConfig
    children: Children
    say: Callable[[str], None]
    started: float = field(default_factory=time.monotonic)
    phase: str = "starting"
    hotkeys: dict[str, str] = field(default_factory=dict)
    miners: dict[str, MinerResult] = field(default_factory=dict)
    rounds: list[int] = field(default_factory=list)
    validator: Child | None = None
    start_model: Path | None = None  # default: the offline assets' SmolLM2-135M (Llama form)

    def step(self, phase: str, work: Callable[[], str]) -> None:
        """Run one phase and print one line: elapsed time at its end, its name, what it found, its duration."""
        self.phase = phase
        begun = time.monotonic()
        result = work()
        now = time.monotonic()
        self.say(f"[{now - self.started:6.0f} s] {phase}: {result} ({now - begun:.0f} s)")

    def run_all(self) -> None:
        run, cfg = self.run, self.config
        self.say(f"devnet in {run.root} (logs: {run.logs}/<name>.log)")
        self.step("network", self._network)
        self.step("validator", self._start_validator)
        self.step("seed publishes", self._seed)
        self.step("round", self._round)
        self.step("trainer grows", lambda: self._grow("trainer", "--num-layers", str(
            self._parent_config["num_hidden_layers"] + cfg.trainer_extra_layers)))
        self.step("trainer trains", self._train)
        self.step("trainer publishes", lambda: self._publish("trainer", self._trained, "trainer/deeper-trained",
                                                                        "--force"))
        self.step("grower grows", lambda: self._grow("grower", "--intermediate-size", str(
            round(self._parent_config["intermediate_size"] * cfg.grower_mlp_scale))))
        self.step("grower publishes", lambda: self._publish(
            "grower", run.models / "grower", "grower/wider-mlp", "--force",
            "--parent", self.miners["seed"].pointer or ""))
        self.step("copier publishes", self._copy)
        for _ in range(cfg.rounds_after_publish):
            self.step("round", self._round)
        self.step("validator stops", self._stop_validator)

    # phases ------------------------------------------------------------------------------------------------

    def _network(self) -> str:
        self.chain, self.hotkeys = create_network(self.run)
        self.run.hub.mkdir(parents=True, exist_ok=True)
        return (f"embedded chain {self.run.chain.name} (clock moved by hand), directory hub, 1 validator + "
                f"{len(self.hotkeys) - 1} miners registered")

    def _start_validator(self) -> str:
        self.validator = self.children.start("validator", commands.validator_run(self.run, self.config))
        return f"daemon pid {self.validator.process.pid}, a round every {self.config.interval_blocks} blocks"

    def _seed(self) -> str:
        src = self.start_model or AssetLayout.default().model_dir(SMALL_MODEL_LLAMA)
        dst = self.run.models / "seed"
        dst.mkdir(parents=True, exist_ok=True)
        for name in select_model_files(p.name for p in src.iterdir()):
            shutil.copyfile(src / name, dst / name)
        self._parent_config = json.loads((dst / "config.json").read_text())
        return self._publish("seed", dst, "seed/start-model")

    def _grow(self, miner: str, *plan: str) -> str:
        parent, child = self.run.models / "seed", self.run.models / miner
        self.children.run(f"{miner}-grow", commands.grow(parent, child, *plan))
        _, text = self.children.run(f"{miner}-verify", commands.verify_growth(parent, child, self.config))
        found = _MAX_DLOSS.search(text)
        result = self.miners.setdefault(miner, MinerResult())
        result.growth_max_dloss = float(found.group(1)) if found else None
        return (f"{' '.join(plan)}: verify-growth max |dloss| = {result.growth_max_dloss:g} nats per sample "
                f"on {self.config.verify_samples} held-out samples (loss-preserving)")

    def _train(self) -> str:
        begun = time.monotonic()
        out = self.run.miner_dir("trainer") / "train"
        _, text = self.children.run("trainer-train", commands.train(self.run.models / "trainer", out, self.config))
        summary = json.loads([line for line in text.splitlines() if line.startswith("{")][-1])
        result = self.miners["trainer"]
        result.train_seconds = time.monotonic() - begun
        result.train_heldout = summary.get("heldout_loss")
        self._trained = Path(summary["checkpoint"]) / "model"
        _copy_tokenizer(self.run.models / "trainer", self._trained)
        last = "" if result.train_heldout is None else f", its own held-out loss {result.train_heldout:.4f} nats/token"
        return f"{summary['step']} steps of {self.config.micro_batch_size}x{self.config.seq_len} tokens{last}"

    def _copy(self) -> str:
        dst = self.run.models / "copier"
        shutil.copytree(self._trained, dst, dirs_exist_ok=True)
        (dst / "lineage.json").unlink(missing_ok=True)
        return self._publish("copier", dst, "copier/deeper-trained", "--force") + " (the trainer's files)"

    def _publish(self, miner: str, folder: Path, repo: str, *extra: str) -> str:
        _, text = self.children.run(f"{miner}-publish", commands.publish(self.run, miner, folder, repo, self.config,
                                                                         *extra))
        result = self.miners.setdefault(miner, MinerResult())
        published = _PUBLISHED.search(text)
        result.pointer = published.group(1) if published else None
        self.chain.advance(1)  # the next commitment is strictly later (commit order decides who was first)
        compared = _COMPARISON.search(text)
        if compared and compared.group(2) != "n/a":
            result.candidate_loss, result.incumbent_loss = float(compared.group(1)), float(compared.group(2))
            return (f"{repo} committed; against the incumbent on {self.config.publish_samples} held-out samples: "
                    f"{result.candidate_loss:.4f} vs {result.incumbent_loss:.4f} nats/token")
        return f"{repo} committed (nothing to compare with yet)"

    def _round(self) -> str:
        block = advance_to_round(self.chain, self.config.interval_blocks)
        self.rounds.append(block)
        sleep_until(lambda: _round_done(self.run, block), self.config.eval_timeout_s * 4, watch=self.validator)
        with StateView(state_file(self.run.validator_state)) as view:
            lines = view.model_lines(block)
            summary = view.round_summary(block)
        names = {hotkey: name for name, hotkey in self.hotkeys.items()}
        parts = [f"{names.get(m.hotkey, m.hotkey[:8])} {m.weight or 0:.2f}" for m in lines if m.state == "evaluated"]
        return (f"block {block}, {summary.evaluated} evaluated, {summary.rejected} rejected; round weights "
                + ", ".join(parts))

    def _stop_validator(self) -> str:
        code = self.children.stop(self.validator)
        return f"SIGTERM, exit code {code}"


def _round_done(run: RunFolder, block: int) -> bool:
    """Round `block` is done and its weights reached the chain (or were decided not to be set)."""
    try:
        with StateView(state_file(run.validator_state)) as view:
            summary = view.round_summary(block)
            weights = view.weights_last_decision()
    except NoState:
        return False
    return (summary is not None and summary.state == "done" and weights is not None
            and weights.round_block >= block)


def _copy_tokenizer(src: Path, dst: Path) -> None:
    """The training output is weights and config; the competition scores each model with its own tokenizer."""
    for path in src.iterdir():
        if path.name.startswith("tokenizer") and not (dst / path.name).exists():
            shutil.copyfile(path, dst / path.name)
