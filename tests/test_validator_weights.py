"""Weight setting: once per round, bounded retries, and a write whose answer was lost is never repeated."""

from __future__ import annotations

import pytest

from node.chain import ChainWriteError
from node.chain.local import LocalChain
from node.chain.wallets import ensure_hotkey
from validator.state import StateStore
from validator.weights import WeightSetter, chain_holds


class LosesAnswers:
    """The real chain; `set_weights` lands but the answer is lost (raises) for the first `n` calls."""

    def __init__(self, chain: LocalChain, lose: int = 0, refuse: int = 0) -> None:
        self._chain, self.lose, self.refuse, self.writes = chain, lose, refuse, 0

    def set_weights(self, wallet, weights, version_key=0):
        if self.refuse:
            self.refuse -= 1
            raise ChainWriteError("node timed out")
        block = self._chain.set_weights(wallet, weights, version_key)
        self.writes += 1
        if self.lose:
            self.lose -= 1
            raise ChainWriteError("connection dropped after submit")
        return block

    def __getattr__(self, name):
        return getattr(self._chain, name)


@pytest.fixture
def setup(tmp_path):
    chain = LocalChain.create(tmp_path / "chain.sqlite", block_time=0, weights_rate_limit=1)
    wallet = ensure_hotkey("v", "v", tmp_path / "w")
    miner = ensure_hotkey("m", "m", tmp_path / "w")
    chain.register(wallet.hotkey.ss58_address)
    chain.register(miner.hotkey.ss58_address)
    chain.set_permit(wallet.hotkey.ss58_address)
    chain.set_stake(wallet.hotkey.ss58_address, 10.0)
    chain.advance(10)  # the chain is at round 10's block, as when a validator scores it
    return chain, wallet, StateStore(tmp_path / "state.sqlite")


def setter(chain, wallet, state, **kw) -> WeightSetter:
    options = dict(interval_blocks=5, retries=3, version_key=1000, dont_set=False, sleep=lambda s: None)
    return WeightSetter(chain, wallet, state, **(options | kw))


def test_a_landed_write_whose_answer_was_lost_is_not_sent_again(setup):
    chain, wallet, state = setup
    flaky = LosesAnswers(chain, lose=1)
    assert setter(flaky, wallet, state).handle(10, {1: 1.0}, my_uid=0) == "set"
    assert flaky.writes == 1 and state.weight_set(10)["message"] == "landed; answer lost"
    assert chain_holds(chain, 0, {1: 1.0})


def test_retries_are_bounded_then_the_round_is_marked_failed(setup):
    chain, wallet, state = setup
    flaky = LosesAnswers(chain, refuse=5)
    assert setter(flaky, wallet, state).handle(10, {1: 1.0}, my_uid=0) == "failed"
    assert flaky.refuse == 2 and state.weight_set(10)["attempts"] == 3
    assert setter(flaky, wallet, state).handle(10, {1: 1.0}, my_uid=0) == "failed"  # decided once per round


def test_restart_in_sending_reconciles_with_the_chain(setup):
    chain, wallet, state = setup
    state.begin_weights(10, {1: 1.0})
    chain.set_weights(wallet, {1: 1.0}, 1000)  # the previous life wrote, then died before recording it
    flaky = LosesAnswers(chain)
    assert setter(flaky, wallet, state).handle(10, {1: 1.0}, my_uid=0) == "set"
    assert flaky.writes == 0 and state.weight_set(10)["message"] == "reconciled"
    state.begin_weights(20, {1: 0.5, 0: 0.5})  # died before the write: the chain holds the old row
    chain.advance(10)
    assert setter(flaky, wallet, state).handle(20, {1: 0.5, 0: 0.5}, my_uid=0) == "set" and flaky.writes == 1


def test_interval_and_dont_set_weights_skip_the_write(setup):
    chain, wallet, state = setup
    assert setter(chain, wallet, state).handle(10, {1: 1.0}, my_uid=0) == "set"
    chain.advance(2)
    assert setter(chain, wallet, state).handle(20, {1: 1.0}, my_uid=0) == "skipped"
    assert "blocks ago" in state.weight_set(20)["message"]
    chain.advance(10)
    assert setter(chain, wallet, state, dont_set=True).handle(30, {1: 1.0}, my_uid=0) == "skipped"
    assert state.weight_set(30)["message"] == "--dont-set-weights"
    assert setter(chain, wallet, state).handle(40, {1: 1.0}, my_uid=None) == "skipped"


def test_a_settled_row_from_the_previous_round_is_not_taken_for_this_rounds_write(setup):
    """Regression (kill -9 between the intent and the write; found reading the reconciliation while building
    tests/test_faults_kill.py): once the moving average settles, round 20 intends the same row round 10 wrote;
    the chain holding that row must not make round 20 look set, or this round's write is silently skipped and
    the uid's last_update goes stale."""
    chain, wallet, state = setup
    flaky = LosesAnswers(chain)
    assert setter(flaky, wallet, state).handle(10, {1: 1.0}, my_uid=0) == "set" and flaky.writes == 1
    chain.advance(10)
    state.begin_weights(20, {1: 1.0})  # the intent is recorded, then the process is killed before the write
    assert setter(flaky, wallet, state).handle(20, {1: 1.0}, my_uid=0) == "set"
    assert flaky.writes == 2 and state.weight_set(20)["message"] != "reconciled"
    uid0 = next(n for n in chain.metagraph().neurons if n.uid == 0)
    assert uid0.last_update == state.weight_set(20)["chain_block"] > state.weight_set(10)["chain_block"]
    state.begin_weights(30, {1: 1.0})
    chain.advance(10)
    chain.set_weights(wallet, {1: 1.0}, 1000)  # this time the write landed before the kill: not sent again
    assert setter(flaky, wallet, state).handle(30, {1: 1.0}, my_uid=0) == "set"
    assert flaky.writes == 2 and state.weight_set(30)["message"] == "reconciled"


def test_a_failed_write_is_not_taken_for_the_previous_rounds_identical_row(setup):
    """Round 20 wants what round 10 set; its write fails before inclusion: the row on chain is round 10's
    (written before round 20's intent), so it is resent, not marked set."""
    chain, wallet, state = setup
    assert setter(chain, wallet, state, interval_blocks=1).handle(10, {1: 1.0}, my_uid=0) == "set"
    chain.advance(10)
    flaky = LosesAnswers(chain, refuse=1)
    assert setter(flaky, wallet, state, interval_blocks=1).handle(20, {1: 1.0}, my_uid=0) == "set"
    assert flaky.writes == 1 and state.weight_set(20)["attempts"] == 2 and state.weight_set(20)["message"] == ""
    assert chain.metagraph().neuron(wallet.hotkey.ss58_address).last_update == 20


class Unreadable(LosesAnswers):
    """Loses the answer of every write, and nothing can be read back after one."""

    def metagraph(self, block=None):
        from node.chain import ChainReadError

        if self.writes:
            raise ChainReadError("connection refused")
        return self._chain.metagraph(block)


def test_a_write_whose_landing_cannot_be_checked_is_not_repeated(setup):
    chain, wallet, state = setup
    flaky = Unreadable(chain, lose=5)
    chain.advance(1)
    assert setter(flaky, wallet, state).handle(10, {1: 1.0}, my_uid=0) == "failed"
    assert flaky.writes == 1 and "outcome unknown" in state.weight_set(10)["message"]
    state.begin_weights(20, {1: 0.5, 0: 0.5})  # a restart finding a write in flight, the chain unreadable
    assert setter(flaky, wallet, state).handle(20, {1: 0.5, 0: 0.5}, my_uid=0) == "failed"
    assert flaky.writes == 1 and "outcome unknown" in state.weight_set(20)["message"]
