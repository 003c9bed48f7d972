"""`python -m miner status` on an embedded network: my commitment, the validators' weights, the best models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from miner.__main__ import main as miner_main
from miner.status import NO_STATE, network_weights
from network import COMPETITION, ROOT, Network, validator_env
from node.chain.types import Metagraph, Neuron
from node.identity import ModelPointer, parse_pointer
from validator.state import PlannedModel, RoundResult, StateStore


def model_folder(path, seed: int):
    """Model files as the hub stores them (the status never loads a model, so the bytes need not be one)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama", "seed": seed}))
    (path / "model.safetensors").write_bytes(bytes([seed]) * 64)
    return path


def flags(net: Network, name: str, *extra: str) -> list[str]:
    return ["status", "--subtensor.network", f"embedded:{net.chain_path}", "--wallet.name", "miners",
            "--wallet.hotkey", name, "--wallet.path", str(net.wallets), "--hub", f"directory:{net.root / 'hub'}",
            *extra]


def miner_status_json(capsys, net: Network, name: str, *extra: str) -> dict:
    """The command in this process (`python -m miner` imports torch: seconds per start on a loaded machine)."""
    capsys.readouterr()
    assert miner_main(flags(net, name, "--json", *extra)) == 0
    return json.loads(capsys.readouterr().out)


def test_network_weight_is_the_stake_weighted_mean_of_validator_rows():
    metagraph = Metagraph(29, 0, (Neuron(0, "v0", 1000.0, True, 0), Neuron(1, "v1", 3000.0, True, 0),
                                  Neuron(2, "m", 0.0, False, 0), Neuron(3, "n", 0.0, False, 0)))
    got = network_weights({0: {2: 1.0}, 1: {2: 0.25, 3: 0.75}}, metagraph)
    assert got == {2: (1000 + 750) / 4000, 3: 2250 / 4000}
    assert network_weights({}, metagraph) == {}


@pytest.mark.slow  # one real `python -m miner` start (imports torch)
def test_miner_status_reads_commitment_weights_hub_and_best_model(tmp_path, capsys):
    net = Network(tmp_path)
    m1, m2, m3 = net.miner("m1"), net.miner("m2"), net.miner("m3")
    v1, v2 = net.validator("v1", stake=1000.0), net.validator("v2", stake=3000.0)
    mine = net.publish(m1, model_folder(tmp_path / "a", 1), "alice/tiny-a")
    best = net.publish(m2, model_folder(tmp_path / "b", 2), "bob/tiny-b")
    copied = parse_pointer(best)  # m3 commits m2's revision with m2's hash: bound to the wrong hotkey
    net.chain.commit(m3, ModelPointer(copied.namespace, copied.name, copied.commit, copied.hash,
                                      COMPETITION).format())
    uid = {w.hotkey.ss58_address: net.chain.metagraph().uid_of(w.hotkey.ss58_address) for w in (m1, m2, m3)}
    hk1, hk2 = m1.hotkey.ss58_address, m2.hotkey.ss58_address
    net.chain.set_weights(v1, {uid[hk1]: 1.0})
    net.chain.set_weights(v2, {uid[hk1]: 0.25, uid[hk2]: 0.75})

    out = miner_status_json(capsys, net, "m1")
    assert (out["hotkey"], out["uid"], out["commitment"]) == (hk1, uid[hk1], mine)
    assert out["pointer_problem"] is None and out["hub"].endswith("hash matches")
    assert abs(out["network_weight"] - 1750 / 4000) < 1e-4
    assert sorted((v["stake"], round(v["weight_on_me"], 4)) for v in out["validators"]) == [(1000.0, 1.0),
                                                                                         (3000.0, 0.25)]
    (top,) = out["best"]
    assert (top["competition"], top["hotkey"], top["pointer"]) == (COMPETITION, hk2, best)
    assert abs(top["network_weight"] - 2250 / 4000) < 1e-4
    assert top["loss"] is None and top["loss_note"] == NO_STATE

    copy = miner_status_json(capsys, net, "m3")
    assert "HASH MISMATCH" in copy["hub"] and copy["network_weight"] == 0

    state = StateStore(tmp_path / "vstate" / "state.sqlite")  # a validator that scored m2's model
    state.plan_round(100, "0x01", 1, "{}", "sha", {hk2: uid[hk2]}, None,
                     [PlannedModel(hk2, uid[hk2], COMPETITION, best, 5, "new")], {COMPETITION: ["s"]})
    state.claim_model(100, hk2)
    state.finish_model(100, hk2, "evaluated", content_hash="H")
    state.score_round(100, [RoundResult(COMPETITION, hk2, uid[hk2], 1.0, 1.0, 2.75, 1)], {hk2: 1.0}, {})
    state.close()
    with_state = miner_status_json(capsys, net, "m1", "--state.dir", str(tmp_path / "vstate"))
    assert (with_state["best"][0]["loss"], with_state["best"][0]["loss_note"]) == (2.75, "validator state, round 100")

    text = subprocess.run([sys.executable, "-m", "miner", *flags(net, "m1", "--state.dir", str(tmp_path / "vstate"))],
                          cwd=ROOT, env=validator_env(), capture_output=True, text=True, timeout=300)
    assert text.returncode == 0, text.stderr  # the real command line, once
    for needle in ("commitment (block", "hash matches", "network weight: 0.4375", "validators' weight on me",
                   "bob/tiny-b@", "2.7500", "validator state, round 100"):
        assert needle in text.stdout, needle


def test_miner_status_without_a_hotkey_is_a_usage_error(tmp_path, capsys):
    net = Network(tmp_path)
    assert miner_main(flags(net, "nobody")) == 2
    assert "no hotkey file" in capsys.readouterr().err
