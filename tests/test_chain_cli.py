"""`python -m node.chain`: the devnet operator's commands, run in-process."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from node.chain.cli import main
from node.chain.local import LocalChain
from node.chain.wallets import ensure_hotkey


def run(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str, str]:
    code = main(["--chain", str(tmp_path / "c.sqlite"), "--wallet-path", str(tmp_path / "w"), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_operator_workflow(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, tmp_path, "metagraph")
    assert code == 1 and "init" in err
    assert run(capsys, tmp_path, "init", "--block-time", "0", "--netuid", "5")[0] == 0
    code, _, err = run(capsys, tmp_path, "init")
    assert code == 1 and "already exists" in err
    assert run(capsys, tmp_path, "init", "--exist-ok")[0] == 0
    code, out, _ = run(capsys, tmp_path, "register", "miner1", "--stake", "10")
    assert code == 0 and out.startswith("uid 0")
    assert run(capsys, tmp_path, "register", "val1", "--stake", "1000", "--permit")[1].startswith("uid 1")
    assert run(capsys, tmp_path, "stake", "miner1", "5", "--add")[1].strip() == "stake 15"
    code, _, err = run(capsys, tmp_path, "stake", "ghost", "1")
    assert code == 1 and "register it first" in err
    assert run(capsys, tmp_path, "advance", "4")[1].strip() == "block 4"
    assert run(capsys, tmp_path, "block")[1].startswith("block 4  hash 0x")

    chain = LocalChain(tmp_path / "c.sqlite")
    miner = ensure_hotkey("devnet", "miner1", tmp_path / "w")
    chain.commit(miner, "not-a-pointer")
    validator = ensure_hotkey("devnet", "val1", tmp_path / "w")
    chain.set_weights(validator, {0: 1.0})

    out = run(capsys, tmp_path, "metagraph")[1]
    assert "netuid 5 at block 4: 2 neurons" in out and miner.hotkey.ss58_address in out
    out = run(capsys, tmp_path, "commitments")[1]
    assert "not-a-pointer" in out and "fields" in out  # the pointer column says why it is invalid
    assert re.search(r"^\s*1\s+0\s+1$", run(capsys, tmp_path, "weights")[1], re.M)  # validator 1 -> uid 0
    assert run(capsys, tmp_path, "permit", "val1", "--revoke")[1].strip() == "permit revoked"
    assert not chain.metagraph().neuron(validator.hotkey.ss58_address).validator_permit
