"""The devnet's parts on their own, fast: sizing presets, the hand-moved clock, stopping process groups."""

from __future__ import annotations

import os
import time

import pytest

from devnet.config import FULL, QUICK, DevnetConfig
from devnet.network import RunFolder, advance_to_round, create_network
from devnet.processes import ChildFailed, Children, group_alive


def test_config_refuses_unknown_and_non_positive_settings():
    with pytest.raises(ValueError, match="unknown devnet setting"):
        FULL.replace(train_step=3)
    with pytest.raises(ValueError, match="round_samples must be a positive"):
        DevnetConfig(round_samples=0)
    with pytest.raises(ValueError, match="warmup_steps must be below"):
        DevnetConfig(train_steps=4, warmup_steps=4)
    assert QUICK.train_steps < FULL.train_steps and QUICK.round_samples < FULL.round_samples


def test_network_registers_everyone_and_the_clock_moves_to_round_blocks(tmp_path):
    chain, hotkeys = create_network(RunFolder(tmp_path / "run"))
    assert set(hotkeys) == {"validator", "seed", "trainer", "grower", "copier"}
    neurons = {n.hotkey: n for n in chain.metagraph().neurons}
    assert set(neurons) == set(hotkeys.values())
    assert neurons[hotkeys["validator"]].validator_permit and not neurons[hotkeys["seed"]].validator_permit
    assert chain.block() == 1  # past block 0, so the first round is at the first interval
    assert advance_to_round(chain, 10) == 10 and chain.block() == 10
    assert advance_to_round(chain, 10) == 20  # already on a round block: the next one


# A module that starts a grandchild and ignores SIGTERM: only SIGKILL of the whole group stops both.
_STUBBORN = """import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print("up", flush=True)
time.sleep(60)
"""


def test_stop_all_stops_whole_groups_even_when_sigterm_is_ignored(tmp_path):
    (tmp_path / "stubborn.py").write_text(_STUBBORN)
    children = Children(tmp_path / "logs", dict(os.environ), tmp_path, stop_timeout_s=1.0)
    calm = children.start("calm", ["http.server", "0", "--bind", "127.0.0.1"])
    stubborn = children.start("stubborn", ["stubborn"])
    deadline = time.monotonic() + 30
    while "up" not in stubborn.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    begun = time.monotonic()
    assert children.stop_all() == ["stubborn", "calm"]
    assert time.monotonic() - begun < 10
    assert not group_alive(calm.process.pid) and not group_alive(stubborn.process.pid)
    assert stubborn.process.returncode == -9 and children.running == []


def test_a_failing_command_names_itself_and_its_log(tmp_path):
    children = Children(tmp_path / "logs", dict(os.environ), tmp_path)
    with pytest.raises(ChildFailed, match=r"broken exited with code 1 \(log: .*broken.log\)") as failure:
        children.run("broken", ["devnet_no_such_module"])
    assert "No module named" in str(failure.value)
    code, text = children.run("fine", ["json.tool", "--help"])
    assert code == 0 and "usage" in text


def test_set_converts_to_the_field_type_and_refuses_unknown_keys():
    config = QUICK.with_settings(["train_steps=9", "lr=3e-4", "round-samples=5"])
    assert (config.train_steps, config.lr, config.round_samples) == (9, 3e-4, 5)
    with pytest.raises(ValueError, match="expected KEY=VALUE with KEY one of"):
        QUICK.with_settings(["train_step=9"])
    with pytest.raises(ValueError, match="'many' is not a valid int"):
        QUICK.with_settings(["train_steps=many"])


def test_usage_errors_exit_2_before_anything_starts(tmp_path, capsys):
    from devnet.cli import main

    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "something").write_text("x")
    assert main(["--root", str(tmp_path / "used")]) == 2
    assert "is not empty" in capsys.readouterr().err
    assert main(["--root", str(tmp_path / "new"), "--model", str(tmp_path)]) == 2
    assert "config.json and tokenizer.json" in capsys.readouterr().err
    assert main(["--root", str(tmp_path / "new"), "--set", "nope=1"]) == 2
    assert not (tmp_path / "new").exists()
