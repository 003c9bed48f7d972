"""End to end: `python -m miner publish` as a miner runs it, then a validator round picks the model up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from network import ROOT, Network, random_model, unigram_model, validator_env
from node.assets.layout import AssetLayout
from node.identity import parse_pointer

pytestmark = [pytest.mark.assets, pytest.mark.slow]


def test_published_model_wins_the_next_validator_round(tmp_path: Path) -> None:
    if not AssetLayout.default().manifest.is_file():
        pytest.skip("offline assets not built: run `python -m node.assets build`")
    net = Network(tmp_path)
    alice, bob, validator = net.miner("alice"), net.miner("bob"), net.validator("v1")
    net.publish(alice, random_model(tmp_path / "incumbent", seed=11), "alice/incumbent")
    uid = net.chain.metagraph().uid_of
    net.chain.set_weights(validator, {uid(alice.hotkey.ss58_address): 1.0})  # an earlier round's verdict
    net.chain.advance(1)

    publish = subprocess.run(
        [sys.executable, "-m", "miner", "publish", str(unigram_model(tmp_path / "better")), "--competition", "tiny",
         "--repo", "bob/better", "--subtensor.network", f"embedded:{net.chain_path}",
         "--hub", f"directory:{net.root / 'hub'}", "--competitions", str(net.competitions), "--wallet.name", "miners",
         "--wallet.hotkey", "bob", "--wallet.path", str(net.wallets), "--samples", "8",
         "--store", str(tmp_path / "store"), "--readback-timeout-s", "5"],
        cwd=ROOT, env=validator_env(), capture_output=True, text=True, timeout=600)
    assert publish.returncode == 0, publish.stdout + publish.stderr
    assert "against" in publish.stdout and "alice:incumbent:" in publish.stdout, publish.stdout
    pointer = parse_pointer(net.chain.commitment(bob.hotkey.ss58_address).data)
    assert pointer.repo_id == "bob/better"

    net.chain.advance(net.interval + 1)  # past the next round boundary: the round sees bob's commitment
    round_ = subprocess.run(net.validator_command("v1", tmp_path / "vstate", "--max-rounds", "1"), cwd=ROOT,
                            env=validator_env(), capture_output=True, text=True, timeout=600)
    assert round_.returncode == 0, round_.stderr[-3000:]
    row = net.chain.weights()[uid(validator.hotkey.ss58_address)]
    bob_weight, alice_weight = row.get(uid(bob.hotkey.ss58_address), 0.0), row.get(uid(alice.hotkey.ss58_address), 0.0)
    assert bob_weight > 0.5 > alice_weight, row
