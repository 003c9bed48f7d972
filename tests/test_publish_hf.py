"""Publish through the production adapters at their boundary: the real `huggingface_hub` client against the
loopback Hub stand-in, and `SubtensorChain` over the bittensor SDK stand-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from miner.publish import Publisher, PublishSettings
from network import COMPETITION, competitions_document, random_model, unigram_model
from node.assets.layout import AssetLayout
from node.chain.retry import RetryPolicy
from node.chain.subtensor import SubtensorChain
from node.chain.wallets import ensure_hotkey
from node.competitions import parse_competitions
from node.competitions.limits import model_limits
from node.hub.hf import HuggingFaceHub
from node.hub.store import ModelStore
from node.identity import ModelPointer, folder_model_hash, parse_pointer
from node.verify import fetch_and_verify
from standins.hub_server import HubServer
from standins.sdk_client import FakeClient, FakeNetwork

pytestmark = [pytest.mark.assets, pytest.mark.slow]

VALIDATOR = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"


def uploads(server: HubServer) -> int:
    """Commits pushed to alice's repository (creating the repository makes its own first commit)."""
    return sum(1 for method, path in server.requests if method == "POST" and "alice/mine/commit/" in path)


class Interrupted(Exception):
    """Stands for the process dying right after a side effect, before the state file records it."""


def stop_after(step: str):
    def hook(done: str) -> None:
        if done == step:
            raise Interrupted(done)
    return hook


@pytest.fixture
def sdk(monkeypatch) -> FakeNetwork:
    """The SDK stand-in, with `set_commitment` landing on its chain state as a real inclusion would."""
    network = FakeNetwork()
    original = FakeClient.submit_call

    def submit_call(self, call, wallet, **kwargs):
        result = original(self, call, wallet, **kwargs)
        if call.function == "set_commitment":
            (raw,) = call.params["info"]["fields"][0][0].values()
            hotkey = wallet.hotkey.ss58_address
            uid = next(n.uid for n in network.neurons if n.hotkey == hotkey)
            network.add_commitment(uid, hotkey, raw.decode(), network.head)
        return result

    monkeypatch.setattr(FakeClient, "submit_call", submit_call)
    return network


def test_hf_hub_and_bittensor_publish_interrupted_and_repeated(tmp_path: Path, sdk: FakeNetwork) -> None:
    if not AssetLayout.default().manifest.is_file():
        pytest.skip("offline assets not built: run `python -m node.assets build`")
    alice = ensure_hotkey("miners", "alice", tmp_path / "wallets")
    hotkey, bob = alice.hotkey.ss58_address, ensure_hotkey("miners", "bob", tmp_path / "wallets").hotkey.ss58_address
    sdk.add_neuron(0, hotkey, 0.0, False)
    sdk.add_neuron(1, VALIDATOR, 1000.0, True)
    sdk.add_neuron(2, bob, 0.0, False)
    sdk.weights = {1: {2: 1.0}}  # the network favours bob's model
    policy = RetryPolicy(attempts=2, base_delay=0.01, jitter=0.0)
    chain = SubtensorChain("test", 29, client_factory=sdk.connect, read_policy=policy, write_policy=policy,
                           sleep=lambda s: None)
    competitions = parse_competitions(competitions_document())
    with HubServer() as server:
        hub = HuggingFaceHub(endpoint=server.url, token="hf_test", policy=policy, timeout=10, sleep=lambda s: None)
        best_dir = random_model(tmp_path / "best", seed=8)
        best = ModelPointer("bob", "best", hub.upload("bob/best", best_dir), folder_model_hash(best_dir, bob),
                            COMPETITION)
        sdk.add_commitment(2, bob, best.format(), 90)
        folder = unigram_model(tmp_path / "mine")
        settings = PublishSettings(folder, "alice/mine", COMPETITION, samples=6, store_dir=tmp_path / "store",
                                   readback_timeout_s=2, readback_poll_s=0.05)
        lines: list[str] = []

        def publisher(hook=None) -> Publisher:
            return Publisher(settings, chain, hub, alice, competitions, say=lines.append, after_step=hook)

        with pytest.raises(Interrupted):
            publisher(stop_after("uploaded")).run()
        text = "\n".join(lines)
        assert f"against {bob}'s {best.format()}" in text and "win rate 1.000" in text, text
        assert uploads(server) == 1 and "submit_call" not in sdk.methods()

        with pytest.raises(Interrupted):
            publisher(stop_after("committed")).run()
        assert any("not uploading again" in line for line in lines)
        assert uploads(server) == 1 and sdk.methods().count("submit_call") == 1

        result = publisher().run()
        assert result.already_published
        assert uploads(server) == 1 and sdk.methods().count("submit_call") == 1
        pointer = parse_pointer(chain.commitment(hotkey).data)
        assert pointer.commit == server.state.repos["alice/mine"].main == result.revision

        # What a validator does with it: the same verification accepts the published model.
        competition = competitions.entries[COMPETITION]
        verified = fetch_and_verify(hub, ModelStore(tmp_path / "vstore", max_bytes=10**9), pointer, hotkey,
                                    competition, model_limits(competition, "float32"), timeout_s=60)
        try:
            assert verified.hash_scheme == "sn29-v1"
        finally:
            verified.lease.release()
