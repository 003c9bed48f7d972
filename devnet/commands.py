"""The command lines the devnet runs: the same `python -m miner|validator ...` an operator would type.

Every path points into the run folder (chain, hub, wallets, publish state, model store, validator state), so a
run never reads or writes the user's default cache beyond the offline assets it starts from.
"""

from __future__ import annotations

from pathlib import Path

from .config import DevnetConfig
from .network import COMPETITION, MINER_WALLET, VALIDATOR, VALIDATOR_WALLET, RunFolder


def network_flags(run: RunFolder) -> list[str]:
    return ["--subtensor.network", f"embedded:{run.chain}", "--hub", f"directory:{run.hub}",
            "--wallet.path", str(run.wallets)]


def validator_flags(run: RunFolder) -> list[str]:
    """What `validator run`, `status` and `report` share: where the network and the state are."""
    return [*network_flags(run), "--wallet.name", VALIDATOR_WALLET, "--wallet.hotkey", VALIDATOR,
            "--state.dir", str(run.validator_state)]


def validator_run(run: RunFolder, config: DevnetConfig) -> list[str]:
    return ["validator", "run", *validator_flags(run), "--round.interval_blocks", str(config.interval_blocks),
            "--round.samples", str(config.round_samples), "--weights.interval_blocks", "1",
            "--poll_interval_s", "0.3", "--eval.timeout_s", str(config.eval_timeout_s), "--offline"]


def grow(src: Path, dst: Path, *plan: str) -> list[str]:
    return ["miner", "grow", str(src), str(dst), *plan]


def verify_growth(parent: Path, child: Path, config: DevnetConfig) -> list[str]:
    return ["miner", "verify-growth", str(parent), str(child), "--samples", str(config.verify_samples),
            "--max-tokens", str(config.verify_max_tokens)]


def train(model: Path, out_dir: Path, config: DevnetConfig) -> list[str]:
    return ["miner", "train", "--model", str(model), "--out-dir", str(out_dir), "--steps", str(config.train_steps),
            "--micro-batch-size", str(config.micro_batch_size), "--seq-len", str(config.seq_len),
            "--lr", str(config.lr), "--warmup-steps", str(config.warmup_steps), "--eval-every", "0",
            "--set", f"eval_samples={config.train_eval_samples}", "--no-progress"]


def publish(run: RunFolder, miner: str, model: Path, repo: str, config: DevnetConfig, *extra: str) -> list[str]:
    home = run.miner_dir(miner)
    return ["miner", "publish", str(model), "--competition", COMPETITION, "--repo", repo, *network_flags(run),
            "--wallet.name", MINER_WALLET, "--wallet.hotkey", miner, "--samples", str(config.publish_samples),
            "--state", str(home / "publish-state.json"), "--store", str(home / "store"),
            "--eval-timeout-s", str(config.eval_timeout_s), *extra]


def status(run: RunFolder, *extra: str) -> list[str]:
    return ["validator", "status", *validator_flags(run), *extra]


def report(run: RunFolder) -> list[str]:
    return ["validator", "report", *validator_flags(run), "--out", str(run.report)]
