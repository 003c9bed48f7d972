"""The devnet's world under one run folder: the embedded chain, the directory hub, wallets, and who is who.

The chain's clock is moved by hand (`block_time=0`): the orchestrator advances it when a phase finishes, so a
run is deterministic in its blocks and never waits for a clock (rounds are anchored at multiples of
`interval_blocks`; the validator starts a round as soon as it sees such a block). Rate limits are one block,
and every publish is followed by one block, so commitments are strictly ordered by block: the copier's
commitment is later than the original's, which is what makes it the copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from node.chain.local import LocalChain
from node.chain.wallets import ensure_hotkey

VALIDATOR = "validator"
MINERS = ("seed", "trainer", "grower", "copier")
MINER_WALLET = "miners"
VALIDATOR_WALLET = "validators"
COMPETITION = "llama"  # the bundled competitions document's Llama competition


@dataclass(frozen=True)
class RunFolder:
    """Where each part of a run lives (nothing of a run is written outside `root`)."""

    root: Path

    @property
    def chain(self) -> Path:
        return self.root / "chain.sqlite"

    @property
    def hub(self) -> Path:
        return self.root / "hub"

    @property
    def wallets(self) -> Path:
        return self.root / "wallets"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def validator_state(self) -> Path:
        return self.root / "validator"

    @property
    def report(self) -> Path:
        return self.root / "report"

    def miner_dir(self, name: str) -> Path:
        return self.root / "miners" / name


def create_network(run: RunFolder) -> tuple[LocalChain, dict[str, str]]:
    """A new chain with one staked, permitted validator and the miners registered; hotkeys by name."""
    run.root.mkdir(parents=True, exist_ok=True)
    chain = LocalChain.create(run.chain, block_time=0, commit_rate_limit=1, weights_rate_limit=1)
    hotkeys: dict[str, str] = {}
    validator = ensure_hotkey(VALIDATOR_WALLET, VALIDATOR, run.wallets).hotkey.ss58_address
    chain.register(validator)
    chain.set_stake(validator, 1000.0)
    chain.set_permit(validator)
    hotkeys[VALIDATOR] = validator
    for name in MINERS:
        hotkeys[name] = ensure_hotkey(MINER_WALLET, name, run.wallets).hotkey.ss58_address
        chain.register(hotkeys[name])
    chain.advance(1)  # past block 0, itself a round block: the first round is at `interval_blocks`
    return chain, hotkeys


def advance_to_round(chain: LocalChain, interval: int) -> int:
    """Move the clock to the next multiple of `interval` (a round's block) and return it."""
    block = chain.block()
    target = (block // interval + 1) * interval
    chain.advance(target - block)
    return target
