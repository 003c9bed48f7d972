"""`python -m miner publish` on an embedded network: refusal, --force, lineage, interruption and repetition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from miner.__main__ import main
from network import COMPETITION, ROOT, Network, random_model, unigram_model, validator_env
from node.assets.layout import AssetLayout
from node.identity import folder_model_hash, parse_pointer
from validator.lineage import declared_parent

pytestmark = pytest.mark.assets


@pytest.fixture(autouse=True)
def built_assets() -> None:
    layout = AssetLayout.default()
    if not layout.manifest.is_file():
        pytest.skip(f"offline assets not built ({layout.manifest} missing): run `python -m node.assets build`")


def publish_args(net: Network, folder: Path, repo: str, hotkey: str, *extra: str) -> list[str]:
    return ["publish", str(folder), "--competition", COMPETITION, "--repo", repo,
            "--subtensor.network", f"embedded:{net.chain_path}", "--hub", f"directory:{net.root / 'hub'}",
            "--competitions", str(net.competitions), "--wallet.name", "miners", "--wallet.hotkey", hotkey,
            "--wallet.path", str(net.wallets), "--samples", "8", "--store", str(net.root / "store"),
            "--readback-timeout-s", "5", *extra]


def revisions(net: Network, repo: str) -> list[str]:
    folder = net.root / "hub" / "repos" / repo
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


@pytest.mark.slow
def test_a_model_that_does_not_beat_the_best_is_refused_then_forced(tmp_path: Path, capsys) -> None:
    net = Network(tmp_path)
    alice, bob = net.miner("alice"), net.miner("bob")
    validator = net.validator("v1")
    best = net.publish(alice, unigram_model(tmp_path / "unigram"), "alice/unigram")
    net.chain.set_weights(validator, {net.chain.metagraph().uid_of(alice.hotkey.ss58_address): 1.0})
    folder = random_model(tmp_path / "random", seed=1)

    assert main(publish_args(net, folder, "bob/random", "bob")) == 1
    out, err = capsys.readouterr()
    assert "refused: not_better" in err and best in out and "win rate 0.000" in out
    assert revisions(net, "bob/random") == [] and net.chain.commitment(bob.hotkey.ss58_address) is None
    state = json.loads((tmp_path / ".publish-random.json").read_text())
    assert state["steps"]["evaluated"]["wins"] is False

    assert main(publish_args(net, folder, "bob/random", "bob", "--force")) == 0
    out, _ = capsys.readouterr()
    assert "--force" in out
    pointer = parse_pointer(net.chain.commitment(bob.hotkey.ss58_address).data)
    assert pointer.repo_id == "bob/random" and revisions(net, "bob/random") == [pointer.commit]
    assert pointer.hash == folder_model_hash(folder, bob.hotkey.ss58_address)


def test_bad_settings_exit_2_and_gate_refusals_exit_1(tmp_path: Path, capsys) -> None:
    net = Network(tmp_path)
    net.miner("carol")
    folder = random_model(tmp_path / "m", seed=2)
    assert main(publish_args(net, folder, "carol/m", "carol", "--competition", "nope")) == 2
    assert "'nope' is not in the competitions document" in capsys.readouterr().err
    assert main(publish_args(net, folder, "not-a-repo", "carol")) == 2
    assert main(publish_args(net, folder, "carol/m", "nobody")) == 2  # no such hotkey file
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "architectures": ["GPT2LMHeadModel"]}))
    assert main(publish_args(net, folder, "carol/m", "carol")) == 1
    assert "refused: architecture" in capsys.readouterr().err
    assert revisions(net, "carol/m") == []


@pytest.mark.slow
def test_parent_writes_lineage_that_the_validator_reads(tmp_path: Path, capsys) -> None:
    net = Network(tmp_path)
    dave = net.miner("dave")
    parent = net.publish(net.miner("erin"), random_model(tmp_path / "p", seed=3), "erin/p")
    folder = random_model(tmp_path / "child", seed=4)
    before = folder_model_hash(folder, dave.hotkey.ss58_address)
    assert main(publish_args(net, folder, "dave/child", "dave", "--parent", parent, "--force")) == 0
    assert declared_parent(folder) == parent
    committed = parse_pointer(net.chain.commitment(dave.hotkey.ss58_address).data)
    assert committed.hash == folder_model_hash(folder, dave.hotkey.ss58_address) != before  # lineage is hashed
    assert "lineage.json" in {f.name for f in net.hub.revision_info("dave/child", committed.commit).files}


def run_cli(args: list[str], kill_after: str | None = None) -> subprocess.CompletedProcess:
    env = validator_env()
    env.pop("SN29_PUBLISH_KILL_AFTER", None)
    if kill_after:
        env["SN29_PUBLISH_KILL_AFTER"] = kill_after
    return subprocess.run([sys.executable, "-m", "miner", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)


def test_publish_killed_after_each_side_effect_and_repeated(tmp_path: Path) -> None:
    net = Network(tmp_path)
    frank = net.miner("frank")
    hotkey = frank.hotkey.ss58_address
    folder = random_model(tmp_path / "m", seed=5)
    args = publish_args(net, folder, "frank/m", "frank")

    first = run_cli(args, kill_after="uploaded")
    assert first.returncode == -9, first.stderr
    assert "no best model" in first.stdout and len(revisions(net, "frank/m")) == 1
    assert net.chain.commitment_history(hotkey) == []

    second = run_cli(args, kill_after="committed")
    assert second.returncode == -9, second.stderr
    assert "evaluation reused" in second.stdout and "not uploading again" in second.stdout
    assert len(net.chain.commitment_history(hotkey)) == 1

    third = run_cli(args)
    assert third.returncode == 0, third.stderr
    assert "already published" in third.stdout
    history = net.chain.commitment_history(hotkey)
    assert len(history) == 1 and len(revisions(net, "frank/m")) == 1
    assert parse_pointer(history[0].data).commit == revisions(net, "frank/m")[0]
    assert os.environ.get("SN29_PUBLISH_KILL_AFTER") is None


@pytest.mark.slow
def test_a_model_the_validator_job_refuses_is_refused_before_the_best_is_fetched(tmp_path: Path, capsys) -> None:
    net = Network(tmp_path)
    net.miner("gina")
    validator = net.validator("v1")
    alice = net.miner("alice")
    net.publish(alice, random_model(tmp_path / "best", seed=6), "alice/best")
    net.chain.set_weights(validator, {net.chain.metagraph().uid_of(alice.hotkey.ss58_address): 1.0})
    folder = random_model(tmp_path / "m", seed=7)
    (folder / "tokenizer.json").unlink()  # the competition scores a model with its own tokenizer
    assert main(publish_args(net, folder, "gina/m", "gina")) == 1
    assert "refused: bad_tokenizer" in capsys.readouterr().err
    assert not (net.root / "store" / "models").exists() or not any((net.root / "store" / "models").iterdir())
    assert revisions(net, "gina/m") == []


class Interrupted(Exception):
    pass


@pytest.mark.slow
def test_a_recorded_evaluation_is_redone_when_the_best_changed(tmp_path: Path) -> None:
    from miner.publish import Publisher, PublishSettings
    from network import competitions_document
    from node.competitions import parse_competitions

    net = Network(tmp_path)
    hana, alice, validator = net.miner("hana"), net.miner("alice"), net.validator("v1")
    settings = PublishSettings(unigram_model(tmp_path / "m"), "hana/m", COMPETITION, samples=6,
                               store_dir=tmp_path / "store", readback_timeout_s=2)
    lines: list[str] = []

    def stop(step: str) -> None:
        if step == "uploaded":
            raise Interrupted(step)

    competitions = parse_competitions(competitions_document())
    with pytest.raises(Interrupted):
        Publisher(settings, net.chain, net.hub, hana, competitions, say=lines.append, after_step=stop).run()
    assert any("nothing to beat" in line for line in lines)
    best = net.publish(alice, random_model(tmp_path / "alice", seed=9), "alice/m")  # meanwhile, a best appears
    net.chain.set_weights(validator, {net.chain.metagraph().uid_of(alice.hotkey.ss58_address): 1.0})
    lines.clear()
    result = Publisher(settings, net.chain, net.hub, hana, competitions, say=lines.append).run()
    assert any("best model changed" in line for line in lines)
    assert result.comparison.best_pointer == best and result.comparison.wins
    assert any("not uploading again" in line for line in lines)
