"""The validator end to end on an embedded network, in real processes: rewards, copies, agreement, kill -9.

One network for the module (its clock moves only by hand): alice commits a random tiny model first, bob a
clearly better one (log-unigram logits), a copier re-uploads bob's files under its own hotkey, and a grower
commits bob's model widened without loss change (and without training). Rounds are anchored every 10 blocks.
The tests run in file order and move the clock forward; each states what it expects to find.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from network import Network, grow_wider, random_model, unigram_model, validator_env
from node.chain import ChainReadError
from small_model import require_assets
from validator.round import RoundRunner
from validator.services import build_services
from validator.settings import resolve
from validator.state import StateStore

pytestmark = pytest.mark.assets
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    require_assets()
    root = tmp_path_factory.mktemp("net")
    network = Network(root, interval=10)
    network.keys = {}
    for name in ("v1", "v2", "v3", "v4"):
        network.keys[name] = network.validator(name).hotkey.ss58_address
    miners = {name: network.miner(name) for name in ("alice", "bob", "copier", "grower")}
    network.keys.update({name: w.hotkey.ss58_address for name, w in miners.items()})
    network.publish(miners["alice"], random_model(root / "alice", seed=1), "alice/tiny")
    network.chain.advance(1)
    bob = network.publish(miners["bob"], unigram_model(root / "bob"), "bob/unigram")
    network.chain.advance(1)
    network.publish(miners["copier"], root / "bob", "copier/unigram")
    grown = grow_wider(root / "bob", root / "grown")
    (grown / "lineage.json").write_text(json.dumps({"parent": bob}))  # certified by the validator, not rewarded
    network.publish(miners["grower"], grown, "grower/unigram-wide")
    network.chain.advance(8)  # block 10: the first round
    return network


def run_validator(net: Network, name: str, *extra: str, timeout: float = 600) -> subprocess.CompletedProcess:
    command = net.validator_command(name, net.root / f"state-{name}", "--max-rounds", "1", *extra)
    return subprocess.run(command, env=validator_env(), cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def state_of(net: Network, name: str) -> StateStore:
    return StateStore(net.root / f"state-{name}" / "state.sqlite")


def by_hotkey(net: Network, rows) -> dict[str, object]:
    names = {v: k for k, v in net.keys.items()}
    return {names[r["hotkey"]]: r for r in rows}


def cosine(a: dict[str, float], b: dict[str, float]) -> float:
    keys = sorted(set(a) | set(b))
    x, y = np.array([a.get(k, 0.0) for k in keys]), np.array([b.get(k, 0.0) for k in keys])
    return float(x @ y / (np.linalg.norm(x) * np.linalg.norm(y)))


def test_the_better_model_takes_the_weight_and_copies_get_nothing(net):
    done = run_validator(net, "v1")
    assert done.returncode == 0, done.stderr[-3000:]
    state = state_of(net, "v1")
    models = by_hotkey(net, state.round_models(10))
    assert {k: r["state"] for k, r in models.items()} == {
        "alice": "evaluated", "bob": "evaluated", "copier": "rejected", "grower": "evaluated"}
    assert models["copier"]["reason"] == "duplicate" and "same files" in models["copier"]["message"]
    results = by_hotkey(net, state.results(10))
    assert results["bob"]["win_rate"] == 1.0 and results["bob"]["weight"] == 1.0
    assert results["grower"]["win_rate"] == 0.0 and results["alice"]["win_rate"] == 0.0
    # growth kept the loss exactly; the older commitment's advantage keeps the samples
    assert results["grower"]["mean_loss"] == pytest.approx(results["bob"]["mean_loss"], rel=1e-6)
    assert results["bob"]["mean_loss"] < results["alice"]["mean_loss"] - 2.0
    uid = {n.hotkey: n.uid for n in net.chain.metagraph().neurons}
    row = net.chain.weights()[uid[net.keys["v1"]]]
    assert row == {uid[net.keys["bob"]]: 1.0}
    assert state.weight_set(10)["state"] == "set" and state.round(10)["state"] == "done"
    grower = state.verdict(net.keys["grower"], models["grower"]["pointer"])
    assert grower["lineage"] == "certified", grower["lineage_message"]
    assert state.verdict(net.keys["bob"], models["bob"]["pointer"])["lineage"] == "none"


def test_two_validators_started_at_different_times_agree(net):
    net.chain.advance(10)  # block 20
    later = subprocess.Popen(net.validator_command("v2", net.root / "state-v2", "--max-rounds", "1"),
                             env=validator_env(), cwd=ROOT, stderr=subprocess.PIPE, text=True)
    again = run_validator(net, "v1")
    _, err = later.communicate(timeout=600)
    assert again.returncode == 0 and later.returncode == 0, (again.stderr[-2000:], err[-2000:])
    first, second = state_of(net, "v1").ema(20), state_of(net, "v2").ema(20)
    assert cosine(first, second) >= 0.999
    a, b = by_hotkey(net, state_of(net, "v1").results(20)), by_hotkey(net, state_of(net, "v2").results(20))
    assert {k: r["win_rate"] for k, r in a.items()} == {k: r["win_rate"] for k, r in b.items()}
    assert state_of(net, "v1").round(20)["seed"] == state_of(net, "v2").round(20)["seed"]


def test_kill_9_mid_round_resumes_to_the_same_result(net):
    command = net.validator_command("v3", net.root / "state-v3", "--max-rounds", "1")
    victim = subprocess.Popen(command, env=validator_env(), cwd=ROOT, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    deadline = time.monotonic() + 600
    for line in victim.stderr:
        if " evaluated (" in line or time.monotonic() > deadline:
            os.killpg(victim.pid, signal.SIGKILL)  # the daemon and its evaluation process, mid-round
            break
    victim.wait(30)
    assert victim.returncode == -signal.SIGKILL
    killed = state_of(net, "v3")
    assert killed.round(20)["state"] == "evaluating"
    before = killed.count("models_evaluated")
    assert before >= 1
    resumed = run_validator(net, "v3")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    state, clean = state_of(net, "v3"), state_of(net, "v2")
    assert state.round(20)["state"] == "done"
    assert [dict(r) | {"uid": None} for r in state.results(20)] == [dict(r) | {"uid": None} for r in clean.results(20)]
    assert cosine(state.ema(20), clean.ema(20)) >= 0.999999
    for counter in ("models_evaluated", "samples_evaluated", "rounds_completed", "weights_set"):
        assert state.count(counter) == clean.count(counter), counter  # nothing counted twice across the two lives
    assert state.count("rounds_completed") == 1 and state.count("weights_set") == 1


def _typed(key: str, value: str) -> object:
    from validator.settings import _coerce, field_for_key

    return _coerce(field_for_key(key), value)


class UnreadableCommitments:
    """The real chain, except that commitments cannot be read (an RPC outage in the middle of a round)."""

    def __init__(self, chain) -> None:
        self._chain = chain

    def commitments(self, block=None):
        raise ChainReadError("connection reset by peer")

    def __getattr__(self, name):
        return getattr(self._chain, name)


def test_a_chain_read_failure_drops_no_pool_model(net):
    flags = net.validator_flags("v4", net.root / "state-v4")
    services = build_services(resolve({key: _typed(key, value) for key, value in flags.items()}, env={}))
    try:
        assert RoundRunner(services).run(20)
        pool = set(services.state.pool_before(21, "tiny"))
        assert len(pool) == 3  # alice, bob, grower (the copier is a duplicate)
        net.chain.advance(10)  # block 30
        services.chain = UnreadableCommitments(services.chain)
        assert RoundRunner(services).run(30)
        row = services.state.round(30)
        assert "commitments unreadable" in row["note"] and "last known pointers" in row["note"]
        models = {(r["hotkey"], r["pointer"]): r for r in services.state.round_models(30)}
        assert pool <= set(models) and all(models[p]["role"] == "pool" for p in pool)
        assert set(services.state.pool_before(31, "tiny")) == pool
        assert services.state.count("chain_errors", "read") >= 1
        weights = services.state.ema(30)
        assert max(weights, key=weights.get) == net.keys["bob"] and math.isclose(sum(weights.values()), 1.0)
    finally:
        services.close()
