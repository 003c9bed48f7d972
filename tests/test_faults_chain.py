"""The validator under chain faults: reads failing at every call, writes failing, lost or repeated, a head block
that goes backwards. The real daemon step and round runner on an embedded network whose chain is wrapped by
`standins.faulty_chain.FaultyChain`, and one case in a real daemon process (the Bittensor implementation:
`test_faults_chain_sdk.py`). What must hold: the last known pointers and the pool are kept, retries stay within
their bounds (calls are counted), and no round's weights reach the chain twice (writes are counted).
"""

from __future__ import annotations

import json
import subprocess

import pytest

from fault_record import SCALES, record
from network import ROOT, Network, validator_env
from node.chain.retry import RetryPolicy
from small_model import require_assets
from standins.faulty_chain import FAULTS_ENV, FaultyChain
from validator import sync
from validator.daemon import Daemon
from validator.services import build_services
from validator.settings import _coerce, field_for_key, resolve
from validator.state import StateStore

pytestmark = pytest.mark.assets
MINERS = ("alice", "bob", "carol")
FAST_READS = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002, jitter=0.0)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    require_assets()
    root = tmp_path_factory.mktemp("faultnet")
    network = Network(root, interval=10)
    network.publish_random_miners(MINERS)
    network.chain.advance(10 - network.chain.block() % 10)
    return network


@pytest.fixture(autouse=True)
def fast_reads(monkeypatch):
    monkeypatch.setattr(sync, "READ_POLICY", FAST_READS)  # the same bounded retries, without the waits


@pytest.fixture(scope="module")
def validator(net):
    """One validator for the module (one evaluation worker start-up), its first round run fault-free."""
    sync.READ_POLICY, saved = FAST_READS, sync.READ_POLICY
    v = Validator(net, "faulty")
    v.services.weights.reconcile_policy = FAST_READS
    try:
        v.run_round(next_round(net))
        yield v
    finally:
        sync.READ_POLICY = saved
        v.close()


@pytest.fixture
def v(validator):
    validator.chain.heal()
    validator.chain.block_offset = 0
    yield validator
    validator.chain.heal()
    validator.chain.block_offset = 0


class Validator:
    """One validator's services with its chain (the daemon's and the weight setter's) wrapped for faults."""

    def __init__(self, net: Network, name: str, **faults) -> None:
        net.validator(name)
        flags = net.validator_flags(name, net.root / f"state-{name}") | {"round.samples": "4"}
        settings = resolve({key: _coerce(field_for_key(key), value) for key, value in flags.items()}, env={})
        self.daemon = Daemon(settings)
        self.services = self.daemon.services = build_services(settings)
        self.chain = FaultyChain(self.services.chain, **faults)
        self.services.chain = self.services.weights.chain = self.chain
        self.waits: list[float] = []
        self.services.weights.sleep = self.waits.append
        self.state = self.services.state

    def run_round(self, block: int, max_steps: int = 30) -> int:
        """Daemon steps until round `block` is done; returns how many it took."""
        for steps in range(1, max_steps + 1):
            self.daemon.step()
            row = self.state.round(block)
            if row is not None and row["state"] == "done":
                return steps
        raise AssertionError(f"round {block} not done after {max_steps} steps: {self.state.round(block)}")

    def pool(self, block: int) -> set[tuple[str, str]]:
        return {tuple(p) for p in self.state.pool_before(block + 1, "tiny")}

    def writes(self) -> int:
        return len(self.chain.landed)

    def close(self) -> None:
        self.services.close()


def next_round(net: Network) -> int:
    net.chain.advance(10 - net.chain.block() % 10)
    return net.chain.block()


def chain_calls(v: Validator) -> dict[str, int]:
    return dict(v.chain.calls)


@pytest.mark.parametrize("scale", SCALES)
def test_reads_failing_at_every_call_keep_pointers_and_pool(net, v, scale):
    """Each chain read fails in turn, first for part of a step's retries, then past them: the round still
    completes with every pool model, each failure costs one call, and each round's weights land once."""
    pool = v.pool(v.state.last_round()["block"])
    assert len(pool) == len(MINERS)
    cases = [(m, n) for m in ("block", "block_hash", "metagraph", "commitments", "weights") for n in (2, 4)]
    if scale == "short":
        cases = [("block_hash", 4), ("commitments", 4)]
    injected = recovered = lost = double = 0
    for method, times in cases:
        block = next_round(net)
        before, writes = chain_calls(v), v.writes()
        v.chain.fail(method, times)
        steps = v.run_round(block)
        calls = chain_calls(v)[method] - before.get(method, 0)
        if method not in ("commitments", "weights"):  # read until they succeed (those two have fallbacks)
            assert v.chain.failures[method] == 0, (method, times)
        assert calls <= times + steps * sync.READ_POLICY.attempts, (method, times, calls, steps)
        per_step = 1 if method == "block" else sync.READ_POLICY.attempts  # the head read is one per step
        assert steps <= -(-times // per_step) + 1, (method, times, steps)
        now = v.pool(block)
        kept = pool <= now
        models = {(r["hotkey"], r["pointer"]): r for r in v.state.round_models(block)}
        assert pool <= set(models), (method, times)  # no pool model dropped from the plan
        assert kept, (method, times, pool - now)
        assert v.state.weight_set(block)["state"] == "set", (method, dict(v.state.weight_set(block)))
        landed = v.writes() - writes
        assert landed == 1, (method, times, landed)
        injected += 1
        recovered += kept and landed == 1
        lost += len(pool - now)
        double += max(0, landed - 1)
        v.chain.heal()
        if method == "commitments" and times > sync.READ_POLICY.attempts - 1:
            assert "last known pointers" in v.state.round(block)["note"]
    assert v.state.count("chain_errors", "read") >= 1
    record("chain", "read_errors_each_method", injected=injected, recovered=recovered, lost=lost, double=double,
           scale=scale, rounds=len(cases))




@pytest.mark.parametrize("scale", SCALES)
def test_a_failing_weight_write_is_retried_within_bounds(net, v, scale):
    """A write refused before inclusion `n` times: retried up to `weights.retries` tries with backoff, landing
    once; past the bound the round's weights are `failed` (never an endless loop) and the next round sets."""
    retries = v.services.weights.retries
    errors = v.state.count("chain_errors", "write")
    cases = [1, retries] if scale == "short" else [1, 2, retries - 1, retries, retries + 2]
    injected = recovered = double = 0
    for times in cases:
        block = next_round(net)
        before, writes, waits = v.chain.calls["set_weights"], v.writes(), len(v.waits)
        v.chain.fail("set_weights", times)
        v.run_round(block)
        calls = v.chain.calls["set_weights"] - before
        row = v.state.weight_set(block)
        if times < retries:
            assert (row["state"], row["attempts"], calls) == ("set", times + 1, times + 1)
            assert v.waits[waits:] == [min(30.0, 2.0 * 2**k) for k in range(times)]
            assert v.writes() - writes == 1
        else:
            assert (row["state"], row["attempts"], calls) == ("failed", retries, retries)
            assert v.writes() == writes and "connection reset" in row["message"]
            v.chain.heal()
            block = next_round(net)
            v.run_round(block)
            assert v.state.weight_set(block)["state"] == "set" and v.writes() == writes + 1
        injected += 1
        recovered += 1
        double += max(0, v.writes() - writes - 1)
    assert v.state.count("chain_errors", "write") - errors == sum(min(t, retries) for t in cases)
    record("chain", "weight_write_fails", injected=injected, recovered=recovered, double=double, scale=scale,
           retries=retries)


@pytest.mark.parametrize("scale", SCALES)
def test_a_write_that_landed_with_its_answer_lost_is_reconciled_never_resent(net, v, scale):
    """The write reaches the chain but its answer is lost (a timeout after inclusion): the validator finds its
    row on chain and records the round as set; the chain sees exactly one write for the round. When the chain
    cannot even be read to tell, the write is not repeated blind either."""
    rounds = 1 if scale == "short" else 4
    injected = recovered = double = 0
    for _ in range(rounds):
        block = next_round(net)
        writes, calls = v.writes(), v.chain.calls["set_weights"]
        v.chain.lose_answers(1)
        v.run_round(block)
        row = v.state.weight_set(block)
        assert (row["state"], row["message"]) == ("set", "landed; answer lost")
        assert v.writes() - writes == 1 and v.chain.calls["set_weights"] - calls == 1
        injected += 1
        recovered += 1
        double += v.writes() - writes - 1
    block = next_round(net)  # lost answer, and every read that would tell fails too
    writes, calls = v.writes(), v.chain.calls["set_weights"]
    v.chain.lose_answers(1, then_unreadable=True)
    v.daemon.step()
    v.chain.heal()
    row = v.state.weight_set(block)
    assert v.state.round(block)["state"] == "done"
    assert (row["state"], row["attempts"]) == ("failed", 1) and "outcome unknown" in row["message"], dict(row)
    assert v.writes() - writes == 1 and v.chain.calls["set_weights"] - calls == 1  # not resent blind
    injected += 1
    recovered += 1
    double += v.writes() - writes - 1
    block = next_round(net)
    v.run_round(block)
    assert v.state.weight_set(block)["state"] == "set" and v.writes() - writes == 2  # the next round sets
    record("chain", "write_landed_answer_lost", injected=injected, recovered=recovered, double=double,
           scale=scale)


@pytest.mark.parametrize("scale", SCALES)
def test_a_head_block_going_backwards_replans_and_rescores_nothing(net, v, scale):
    """After a reconnect the head is behind the last node's (by less than, then more than, a round): no round
    is planned, scored or weighted again, nothing crashes, and the next round runs once the head is past it."""
    offsets = [5] if scale == "short" else [1, 5, 9, 10, 15, 25, 40]
    injected = recovered = double = 0
    for offset in offsets:
        net.chain.advance(10)  # a round this validator never planned lies behind the next one
        block = next_round(net)
        v.run_round(block)
        assert v.state.round(block - 10) is None
        rounds, writes = [dict(r) for r in v.state.rounds()], v.writes()
        results = [dict(r) for r in v.state.results(block)]
        v.chain.block_offset = offset
        for _ in range(3):
            assert v.daemon.step() is False
        assert [dict(r) for r in v.state.rounds()] == rounds  # nothing planned, resumed or re-scored
        assert [dict(r) for r in v.state.results(block)] == results and v.writes() == writes
        v.chain.block_offset = 0
        injected += 1
        recovered += 1
        double += v.writes() - writes
    assert v.state.count("chain_errors", "behind") >= 3 * sum(o < 10 for o in offsets)
    block = next_round(net)
    v.run_round(block)
    assert v.writes() == writes + 1
    record("chain", "head_goes_backwards", injected=injected, recovered=recovered, double=double, scale=scale)


@pytest.mark.slow  # a daemon process start-up (imports, a worker, a round): minutes on a loaded machine
def test_a_real_daemon_process_rides_out_read_errors_and_a_lost_write_answer(net, tmp_path):
    """`python -m validator run` in its own process, its chain failing reads of the round's block, metagraph
    and commitments (within the retry bound) and losing the answer of its weight write: the round completes
    with every model, and its weights reach the chain exactly once."""
    net.validator("process")
    log = tmp_path / "writes.jsonl"
    faults = {"fail": {"block": 1, "block_hash": 2, "metagraph": 1, "commitments": 2}, "lose_answers": 1,
              "log": str(log)}
    block = next_round(net)
    command = net.validator_command("process", net.root / "state-process", "--max-rounds", "1")
    command[1:3] = ["-m", "standins.faulty_validator"]
    env = validator_env() | {FAULTS_ENV: json.dumps(faults)}
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(injected)" in done.stderr and "inclusion answer" in done.stderr
    state = StateStore(net.root / "state-process" / "state.sqlite")
    try:
        assert state.round(block)["state"] == "done"
        assert {r["state"] for r in state.round_models(block)} == {"evaluated"}
        assert len(state.round_models(block)) == len(MINERS)
        row = state.weight_set(block)
        assert (row["state"], row["message"]) == ("set", "landed; answer lost")
        writes = log.read_text().splitlines()
        assert len(writes) == 1, writes
        assert state.count("chain_errors", "read") == 1  # the head read (once per step); the rest within retries
        injected = sum(faults["fail"].values()) + faults["lose_answers"]
        record("chain", "daemon_process", injected=injected, recovered=injected, double=len(writes) - 1)
    finally:
        state.close()
