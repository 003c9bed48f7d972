"""The embedded chain: rules like subtensor's, signed writes, a shared clock, several processes at once."""

from __future__ import annotations

import multiprocessing
import sqlite3
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import pytest
from bittensor.sp_core import Keypair

from node.chain import (
    ChainReadError,
    ChainWriteError,
    InvalidWeightsError,
    NotRegisteredError,
    PermissionDeniedError,
    RateLimitedError,
    SignatureError,
    open_chain,
)
from node.chain.local import LocalChain
from node.chain.local import signing as local_signing
from node.chain.wallets import ensure_hotkey
from node.chain.weights import quantize_weights
from standins import chain_workers


@pytest.fixture
def net(tmp_path: Path):
    chain = LocalChain.create(tmp_path / "chain.sqlite", block_time=0, commit_rate_limit=10, weights_rate_limit=5)
    wallets = tmp_path / "wallets"
    miner = ensure_hotkey("m", "m1", wallets)
    other = ensure_hotkey("m", "m2", wallets)
    validator = ensure_hotkey("v", "v1", wallets)
    for wallet in (miner, other, validator):
        chain.register(wallet.hotkey.ss58_address)
    chain.set_stake(validator.hotkey.ss58_address, 1000.0)
    chain.set_permit(validator.hotkey.ss58_address)
    return chain, miner, other, validator


def test_metagraph_and_registration(net) -> None:
    chain, miner, other, validator = net
    mg = chain.metagraph()
    assert mg.uids == [0, 1, 2] and mg.netuid == 29 and mg.block == 0
    assert mg.uid_of(validator.hotkey.ss58_address) == 2
    assert [n.uid for n in mg.validators()] == [2] and mg.neuron(validator.hotkey.ss58_address).stake == 1000.0
    assert chain.register(miner.hotkey.ss58_address) == 0  # idempotent
    with pytest.raises(ChainWriteError):
        chain.register("not-an-address")
    with pytest.raises(NotRegisteredError):
        chain.set_stake(Keypair.create_from_seed(b"\1" * 32).ss58_address, 5)


def test_commitments_one_per_hotkey_with_rate_limit(net) -> None:
    chain, miner, other, _ = net
    hotkey = miner.hotkey.ss58_address
    assert chain.commitment(hotkey) is None
    assert chain.commit(miner, "first") == 0
    got = chain.commitment(hotkey)
    assert (got.data, got.block, got.uid) == ("first", 0, 0)
    chain.advance(9)
    with pytest.raises(RateLimitedError) as info:
        chain.commit(miner, "second")
    assert info.value.retry_at == 10
    chain.advance(1)
    assert chain.commit(miner, "second") == 10
    chain.commit(other, "theirs")
    current = {h: c.data for h, c in chain.commitments().items()}
    assert current == {hotkey: "second", other.hotkey.ss58_address: "theirs"}
    assert [c.data for c in chain.commitment_history(hotkey)] == ["first", "second"]
    chain.advance(10)
    with pytest.raises(ChainWriteError, match="bytes"):
        chain.commit(miner, "x" * 129)


def test_unregistered_hotkey_cannot_commit(net, tmp_path: Path) -> None:
    chain = net[0]
    stranger = ensure_hotkey("s", "s1", tmp_path / "wallets")
    with pytest.raises(NotRegisteredError):
        chain.commit(stranger, "hello")


def test_weights_rules(net) -> None:
    chain, miner, _, validator = net
    with pytest.raises(PermissionDeniedError):
        chain.set_weights(miner, {0: 1.0})
    with pytest.raises(InvalidWeightsError):
        chain.set_weights(validator, {7: 1.0})
    with pytest.raises(InvalidWeightsError):
        chain.set_weights(validator, {0: float("nan")})
    with pytest.raises(InvalidWeightsError):
        chain.set_weights(validator, {0: 0.0})
    assert chain.set_weights(validator, {0: 3.0, 1: 1.0, 2: 0.0}, version_key=1) == 0
    assert chain.weights() == {2: {0: 0.75, 1: 0.25}}  # stored as u16 65535 and 21845
    assert chain.metagraph().neuron(validator.hotkey.ss58_address).last_update == 0
    with pytest.raises(RateLimitedError):
        chain.set_weights(validator, {0: 1.0})
    chain.advance(5)
    chain.set_weights(validator, {1: 1.0})
    assert chain.weights() == {2: {1: 1.0}}
    assert chain.metagraph().neuron(validator.hotkey.ss58_address).last_update == 5


def test_weights_version_key(tmp_path: Path) -> None:
    chain = LocalChain.create(tmp_path / "c.sqlite", block_time=0, weights_version=3)
    validator = ensure_hotkey("v", "v", tmp_path / "w")
    chain.register(validator.hotkey.ss58_address)
    chain.set_permit(validator.hotkey.ss58_address)
    with pytest.raises(InvalidWeightsError, match="version"):
        chain.set_weights(validator, {0: 1.0}, version_key=2)
    chain.set_weights(validator, {0: 1.0}, version_key=3)


def test_quantisation_matches_the_sdk() -> None:
    from bittensor.intents.weights import normalize

    weights = {0: 0.1, 3: 0.7, 5: 0.2, 9: 0.0, 11: 1e-9}
    uids, values = normalize(list(weights), list(weights.values()))
    assert quantize_weights(weights) == dict(zip(uids, values, strict=True))


def test_signatures_are_checked(net) -> None:
    chain, miner, other, _ = net
    cfg = chain.network()
    forged = local_signing.sign(miner.hotkey, cfg.genesis_seed, cfg.netuid, "commit", 0, {"data": "mine"})
    with pytest.raises(SignatureError):
        chain.submit(replace(forged, hotkey=other.hotkey.ss58_address))  # claims another hotkey
    with pytest.raises(SignatureError):
        chain.submit(replace(forged, body={"data": "tampered"}))
    with pytest.raises(SignatureError):
        chain.submit(replace(forged, signature="00" * 64))
    with pytest.raises(SignatureError):
        chain.submit(replace(forged, signature="zz"))
    foreign = local_signing.sign(miner.hotkey, "ab" * 32, cfg.netuid, "commit", 0, {"data": "mine"})
    with pytest.raises(SignatureError):
        chain.submit(foreign)  # signed for another network
    chain.advance(local_signing.MORTALITY_BLOCKS + 1)
    with pytest.raises(SignatureError, match="mortality"):
        chain.submit(forged)  # too old
    assert chain.commitment(other.hotkey.ss58_address) is None
    assert chain.commitment(miner.hotkey.ss58_address) is None


def test_clock_and_block_hashes(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "timed.sqlite"
    LocalChain.create(path, block_time=12.0, genesis_time=1000.0)
    chain = LocalChain(path, now=lambda: now[0])
    assert chain.block() == 0
    now[0] += 12 * 7 + 5
    assert chain.block() == 7
    assert chain.advance(3) == 10
    second = LocalChain(path, now=lambda: now[0])
    assert second.block() == 10
    assert second.block_hash(4) == chain.block_hash(4) != chain.block_hash(5)
    assert chain.block_hash() == chain.block_hash(10) and chain.block_hash().startswith("0x")
    with pytest.raises(ChainReadError):
        chain.block_hash(11)
    other_net = LocalChain.create(tmp_path / "other.sqlite", block_time=0)
    assert other_net.block_hash(0) != chain.block_hash(0)


def test_read_failures_are_not_empty_answers(tmp_path: Path) -> None:
    with pytest.raises(ChainReadError, match="init"):
        LocalChain(tmp_path / "missing.sqlite")
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ChainReadError):
        LocalChain(garbage)
    chain = LocalChain.create(tmp_path / "ok.sqlite", block_time=0)
    conn = sqlite3.connect(tmp_path / "ok.sqlite")
    conn.execute("DROP TABLE commitments")
    conn.commit()
    conn.close()
    with pytest.raises(ChainReadError):
        chain.commitment("5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb")


def test_open_chain_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "spec.sqlite"
    LocalChain.create(path, block_time=0, netuid=7)
    assert open_chain(f"embedded:{path}").netuid == 7
    assert open_chain(str(path)).netuid == 7
    monkeypatch.setenv("SN29_CHAIN", str(path))
    assert open_chain().netuid == 7
    assert type(open_chain("test", netuid=3)).__name__ == "SubtensorChain"  # lazy: no connection made
    with pytest.raises(ValueError):
        open_chain("nonsense")


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    LocalChain.create(path, block_time=0, commit_rate_limit=0)
    rounds = 15
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        futures = [
            pool.submit(chain_workers.register_and_commit, str(path), str(tmp_path / "w"), name, rounds)
            for name in ("alpha", "beta")
        ]
        for future in futures:
            future.result(timeout=120)
    chain = LocalChain(path)
    mg = chain.metagraph()
    assert mg.uids == list(range(2 + 2 * rounds))  # no lost or duplicated registrations
    assert sum(n.stake for n in mg.neurons) == 2 * rounds
    assert chain.block() == 2 * rounds  # every advance counted
    history = chain.commitment_history()
    assert len(history) == 2 * rounds
    for name in ("alpha", "beta"):
        hotkey = ensure_hotkey(name, "hot", tmp_path / "w").hotkey.ss58_address
        assert chain.commitment(hotkey).data == f"{name}-{rounds - 1}"


def test_second_process_sees_commitments_and_weights(net) -> None:
    chain, miner, _, validator = net
    chain.commit(miner, "visible")
    chain.set_weights(validator, {0: 1.0, 1: 1.0})
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        seen = pool.submit(chain_workers.read_commitment, str(chain.path), miner.hotkey.ss58_address)
        weights = pool.submit(chain_workers.read_weights, str(chain.path))
        assert seen.result(timeout=60) == "visible@0"
        assert weights.result(timeout=60) == {2: {0: 0.5, 1: 0.5}}


def test_reads_pinned_to_a_block_see_the_chain_as_it_stood(net, tmp_path: Path) -> None:
    chain, miner, other, _ = net
    hotkey = miner.hotkey.ss58_address
    chain.commit(miner, "first")
    chain.advance(10)
    chain.commit(miner, "second")
    chain.commit(other, "theirs")
    late = ensure_hotkey("m", "late", tmp_path / "wallets")
    chain.advance(2)
    chain.register(late.hotkey.ss58_address)
    assert {h: c.data for h, c in chain.commitments(5).items()} == {hotkey: "first"}
    assert {h: (c.data, c.block) for h, c in chain.commitments(10).items()} == {
        hotkey: ("second", 10), other.hotkey.ss58_address: ("theirs", 10)}
    assert chain.commitments(12) == chain.commitments()
    assert late.hotkey.ss58_address not in chain.metagraph(11).hotkeys
    assert chain.metagraph(11).block == 11 and late.hotkey.ss58_address in chain.metagraph().hotkeys
    with pytest.raises(ChainReadError, match="not produced"):
        chain.commitments(13)


def test_weight_history_keeps_every_accepted_write(net) -> None:
    chain, miner, _, validator = net
    assert chain.weight_history() == []
    chain.set_weights(validator, {0: 3.0, 1: 1.0})
    with pytest.raises(RateLimitedError):  # refused writes leave no trace
        chain.set_weights(validator, {0: 1.0})
    chain.advance(5)
    chain.set_weights(validator, {1: 1.0})
    assert chain.weight_history() == [(2, 0, {0: 0.75, 1: 0.25}), (2, 5, {1: 1.0})]
    assert chain.weight_history(validator_uid=0) == []


def test_weight_history_is_added_to_a_chain_file_made_before_it(net) -> None:
    chain, _, _, validator = net
    with sqlite3.connect(chain.path) as conn:
        conn.execute("DROP TABLE weight_history")
    assert chain.weight_history() == []
    chain.set_weights(validator, {1: 1.0})
    assert chain.weight_history() == [(2, 0, {1: 1.0})]
