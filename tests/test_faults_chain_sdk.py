"""The Bittensor implementation under chain faults, through the SDK stand-in (`standins.sdk_client`): SDK errors
and timeouts at every read it makes, reconnects, a head lower after a reconnect, and a weight write that times
out after inclusion, under the real `WeightSetter`. Counted: the SDK calls (retries within their bound) and
the writes that reached the stand-in's chain (never two for one round).
"""

from __future__ import annotations

from types import SimpleNamespace

import bittensor as bt
import pytest

from fault_record import SCALES, record
from node.chain import ChainReadError
from node.chain.retry import RetryPolicy
from node.chain.subtensor import SubtensorChain
from node.chain.weights import fractions, quantize_weights
from standins.sdk_client import FakeClient, FakeNetwork
from validator.state import StateStore
from validator.weights import WeightSetter

FAST_READS = RetryPolicy(attempts=3, base_delay=0.001, max_delay=0.002, jitter=0.0)

SDK_READS = {  # Chain method -> (SDK call it makes, how to call it)
    "block": ("block", lambda c: c.block()),
    "block_hash": ("block_info", lambda c: c.block_hash(90)),
    "metagraph": ("subnets.metagraph", lambda c: c.metagraph(90)),
    "commitments": ("subnets.commitments", lambda c: c.commitments(90)),
    "commitment": ("identity.commitment", lambda c: c.commitment(HOT_A)),
    "weights": ("weights.weights", lambda c: c.weights()),
}
HOT_A = "5F52EqMg8XCMyGwvTxiwD2jDrFRMHYMDCZev6mruEJfUu4Wb"
HOT_V = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


class LandingClient(FakeClient):
    """A client whose `execute` applies the weights (the row and `last_update`) to the network, then, while
    `network.lose` > 0, loses the answer as a timeout after inclusion does."""

    def execute(self, intent, wallet, **kwargs):
        result = super().execute(intent, wallet, **kwargs)
        net = self._network
        me = next(n for n in net.neurons if n.hotkey == wallet.hotkey.ss58_address)
        net.weights[me.uid] = fractions(quantize_weights(dict(zip(intent.uids, intent.weights, strict=True))))
        me.last_update = net.head
        net.landed += 1
        if net.lose:
            net.lose -= 1
            raise TimeoutError("no answer within 12 s")
        return result


def sdk_network() -> FakeNetwork:
    network = FakeNetwork()
    network.add_neuron(0, HOT_A, 1.0, False, last_update=10)
    network.add_neuron(1, HOT_V, 1000.0, True, last_update=10)
    network.add_commitment(0, HOT_A, "pointer-a", 80)
    network.weights = {1: {0: 1.0}}
    network.landed, network.lose = 0, 0
    return network


def sdk_chain(network: FakeNetwork) -> SubtensorChain:
    return SubtensorChain("test", 29, client_factory=lambda: LandingClient(network), read_policy=FAST_READS,
                          write_policy=FAST_READS, sleep=lambda s: None)


@pytest.mark.parametrize("scale", SCALES)
def test_sdk_errors_timeouts_and_reconnects_at_every_read(scale):
    """Every read the Bittensor implementation makes fails with SDK errors and timeouts, `n` times: under the
    retry bound it answers after `n` reconnects; past it, a `ChainReadError` after exactly the bound's calls."""
    errors = [TimeoutError("rpc timed out"), bt.RpcConnectionError("socket closed"), ConnectionResetError("reset")]
    counts = (1, 2, 3) if scale == "short" else (1, 2, 3, 4, 8)
    injected = recovered = 0
    for method, (sdk_call, call) in SDK_READS.items():
        for n in counts:
            network = sdk_network()
            chain = sdk_chain(network)
            expected = call(chain)
            before = network.methods().count(sdk_call)
            network.fail(sdk_call, *[errors[k % len(errors)] for k in range(n)])
            if n < FAST_READS.attempts:
                assert call(chain) == expected, (method, n)
                assert chain.reconnects == n and network.methods().count(sdk_call) - before == n + 1
                recovered += 1
            else:
                with pytest.raises(ChainReadError):
                    call(chain)
                assert network.methods().count(sdk_call) - before == FAST_READS.attempts, (method, n)
                network.errors[sdk_call].clear()  # the outage ends: the next read answers again
                assert call(chain) == expected, (method, n)
                recovered += 1
            injected += 1
    record("chain", "sdk_read_errors_each_method", injected=injected, recovered=recovered, scale=scale)


def test_sdk_block_lower_after_a_reconnect_is_reported_as_is():
    """A reconnect lands on a node behind the last one: the lower head is what the chain says (the daemon, not
    the client, refuses to plan from it; see `test_faults_chain.py`), and pinned reads past it fail as reads."""
    network = sdk_network()
    chain = sdk_chain(network)
    assert chain.block() == 100
    network.fail("block", ConnectionResetError("reset"))
    network.head = 95
    assert chain.block() == 95 and chain.reconnects == 1
    with pytest.raises(ChainReadError, match="no header"):
        chain.block_hash(100)


@pytest.mark.parametrize("scale", SCALES)
def test_sdk_weight_write_timing_out_after_inclusion_is_written_once(scale, tmp_path):
    """The SDK's `execute` includes the weights, then times out: `WeightSetter` over `SubtensorChain` must
    find them on chain and never execute a second time; a timeout before inclusion is retried in bounds."""
    rounds = 2 if scale == "short" else 8
    injected = recovered = double = 0
    for k in range(rounds):
        network = sdk_network()
        chain = sdk_chain(network)
        state = StateStore(tmp_path / f"state-{k}.sqlite")
        wallet = SimpleNamespace(hotkey=SimpleNamespace(ss58_address=HOT_V))
        setter = WeightSetter(chain, wallet, state, interval_blocks=1, retries=3, version_key=0, dont_set=False,
                              sleep=lambda s: None)
        setter.reconcile_policy = FAST_READS
        network.lose = 1
        if k % 2:
            network.fail("execute", TimeoutError("before inclusion"))
        assert setter.handle(100, {0: 1.0 + k}, my_uid=1) == "set"
        executes = network.methods().count("execute")
        assert network.landed == 1, (k, network.landed, executes)
        assert executes == 1 + k % 2
        assert state.weight_set(100)["message"] == "landed; answer lost"
        injected += 1
        recovered += 1
        double += network.landed - 1
        state.close()
    record("chain", "sdk_write_answer_lost", injected=injected, recovered=recovered, double=double, scale=scale)
