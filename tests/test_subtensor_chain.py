"""`SubtensorChain` at its boundary: the SDK client replaced by a recording stand-in."""

from __future__ import annotations

import bittensor as bt
import pytest

from node.chain import (
    ChainReadError,
    ChainWriteError,
    InvalidWeightsError,
    NotRegisteredError,
    RateLimitedError,
)
from node.chain.retry import RetryPolicy
from node.chain.subtensor import SubtensorChain
from standins.sdk_client import FakeNetwork

HOT_A = "5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"
HOT_B = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
WALLET = object()  # the SDK receives the wallet untouched


@pytest.fixture
def network() -> FakeNetwork:
    net = FakeNetwork()
    net.add_neuron(0, HOT_A, 12.5, False, last_update=90)
    net.add_neuron(1, HOT_B, 2000.0, True, last_update=95)
    net.add_commitment(0, HOT_A, "pointer-a", 80)
    net.add_commitment(None, HOT_B, "", 81)  # no visible content: not a commitment
    net.weights = {1: {0: 1.0}}
    return net


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def chain(network: FakeNetwork, sleeps: list[float]) -> SubtensorChain:
    policy = RetryPolicy(attempts=3, base_delay=0.5, max_delay=4.0, jitter=0.0)
    return SubtensorChain(
        "test", 29, client_factory=network.connect, read_policy=policy, write_policy=policy, sleep=sleeps.append
    )


def test_reads_are_mapped(chain: SubtensorChain, network: FakeNetwork) -> None:
    assert chain.block() == 100
    assert chain.block_hash(42) == "0x" + f"{42:064x}"
    mg = chain.metagraph()
    assert (mg.netuid, mg.block, mg.uids) == (29, 100, [0, 1])
    assert mg.neuron(HOT_A).stake == pytest.approx(12.5) and mg.neuron(HOT_B).validator_permit
    assert mg.neuron(HOT_B).last_update == 95
    assert {h: (c.data, c.block, c.uid) for h, c in chain.commitments().items()} == {HOT_A: ("pointer-a", 80, 0)}
    found = chain.commitment(HOT_A)
    assert (found.data, found.block) == ("pointer-a", 80)
    assert chain.commitment("5Nobody") is None  # the chain answered: no commitment
    assert chain.weights() == {1: {0: 1.0}}
    assert ("subnets.metagraph", (29,), {"block": None, "commitments": False}) in network.calls
    assert network.clients == 1  # one connection reused


def test_transient_errors_then_success(chain: SubtensorChain, network: FakeNetwork, sleeps: list[float]) -> None:
    network.fail("identity.commitment", bt.RpcConnectionError("socket closed"), ConnectionResetError("reset"))
    found = chain.commitment(HOT_A)
    assert found is not None and found.data == "pointer-a"
    assert network.methods().count("identity.commitment") == 3
    assert sleeps == [0.5, 1.0]  # exponential backoff
    assert network.clients == 3 and network.closed == 2 and chain.reconnects == 2


def test_persistent_outage_is_a_read_error_not_no_commitment(
    chain: SubtensorChain, network: FakeNetwork, sleeps: list[float]
) -> None:
    network.fail("identity.commitment", *[TimeoutError("rpc timed out")] * 5)
    with pytest.raises(ChainReadError, match="timed out"):
        chain.commitment(HOT_A)
    assert network.methods().count("identity.commitment") == 3  # bounded
    assert sleeps == [0.5, 1.0]
    network.fail("subnets.commitments", *[bt.ConnectionNotReady("down")] * 3)
    with pytest.raises(ChainReadError):
        chain.commitments()


def test_permanent_error_is_not_retried(chain: SubtensorChain, network: FakeNetwork, sleeps: list[float]) -> None:
    network.fail("subnets.metagraph", bt.ChainError("decode failed", code=bt.ErrorCode.INTERNAL))
    with pytest.raises(ChainReadError, match="decode failed"):
        chain.metagraph()
    assert network.methods().count("subnets.metagraph") == 1 and sleeps == []
    network.subnet_exists = False
    with pytest.raises(ChainReadError, match="does not exist"):
        chain.metagraph()
    with pytest.raises(ChainReadError):
        chain.block_hash(10_000)


def test_commit_submits_a_hotkey_signed_raw_commitment(chain: SubtensorChain, network: FakeNetwork) -> None:
    assert chain.commit(WALLET, "ns:name:commit") == 101
    method, (call, wallet), kwargs = next(c for c in network.calls if c[0] == "submit_call")
    assert (call.module, call.function) == ("Commitments", "set_commitment")
    assert call.params == {"netuid": 29, "info": {"fields": [[{"Raw14": b"ns:name:commit"}]]}}
    assert wallet is WALLET and kwargs == {"signer": "hotkey"}


def test_rejected_writes_map_to_specific_errors(chain: SubtensorChain, network: FakeNetwork) -> None:
    network.write_results.append(
        bt.ExtrinsicResult(success=False, error=bt.ChainError("too soon", code=bt.ErrorCode.RATE_LIMITED))
    )
    with pytest.raises(RateLimitedError):
        chain.commit(WALLET, "x")
    network.write_results.append(
        bt.ExtrinsicResult(success=False, error=bt.ChainError("who?", code=bt.ErrorCode.NOT_REGISTERED))
    )
    with pytest.raises(NotRegisteredError):
        chain.set_weights(WALLET, {0: 1.0})
    network.write_results.append(bt.ExtrinsicResult(success=False, message="pool rejected"))
    with pytest.raises(ChainWriteError, match="pool rejected"):
        chain.commit(WALLET, "x")


def test_set_weights_uses_the_sdk_intent(chain: SubtensorChain, network: FakeNetwork, sleeps: list[float]) -> None:
    network.fail("execute", bt.RpcConnectionError("dropped"))
    with pytest.raises(ChainWriteError, match="outcome unknown"):  # it may have been included: not resubmitted
        chain.set_weights(WALLET, {3: 0.25, 1: 0.75}, version_key=7)
    assert chain.reconnects == 1 and sleeps == []
    chain.set_weights(WALLET, {3: 0.25, 1: 0.75}, version_key=7)  # the caller's retry, after looking at the chain
    intents = [args[0] for name, args, _ in network.calls if name == "execute"]
    assert len(intents) == 2
    intent = intents[-1]
    assert isinstance(intent, bt.SetWeights)
    assert (intent.netuid, intent.version_key) == (29, 7)
    assert dict(zip(intent.uids, intent.weights, strict=True)) == {3: 0.25, 1: 0.75}
    calls_before = len(network.calls)
    with pytest.raises(InvalidWeightsError):
        chain.set_weights(WALLET, {0: -1.0})
    assert len(network.calls) == calls_before  # refused before any traffic


def test_write_outage_surfaces(chain: SubtensorChain, network: FakeNetwork) -> None:
    network.fail("submit_call", *[bt.RpcConnectionError("no route")] * 3)
    with pytest.raises(ChainWriteError, match="no route"):
        chain.commit(WALLET, "x")


def test_standin_mirrors_the_real_sdk_surface() -> None:
    """Guards against SDK drift: every call the adapter makes exists on a (cold, unconnected) bt.Subtensor."""
    import inspect

    real = bt.Subtensor("test")  # construction is lazy: no socket, no thread
    assert "commitments" in inspect.signature(real._client.subnets.metagraph).parameters
    for namespace, method in (("subnets", "commitments"), ("identity", "commitment"), ("weights", "weights")):
        assert callable(getattr(getattr(real._client, namespace), method))
    assert isinstance(bt.Subtensor.__dict__.get("block") or bt.SyncClient.__dict__["block"], property)
    for method in ("block_info", "submit_call", "execute", "close"):
        assert callable(getattr(real, method))
    assert callable(bt.calls.Commitments.set_commitment)
