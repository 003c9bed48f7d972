"""`python -m devnet` end to end, in real processes: Ctrl-C stops everything; the story's four claims hold.

The default suite runs the whole story (every phase, every process) on a tiny random Llama with the GPT-2
tokenizer (`--model`), where training from random weights lowers the loss within a few steps; the quick
configuration on the small trained model (SmolLM2-135M), the one the README shows, is `slow`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch

import transformers_llama
from network import tiny_config, tokenizer_dir
from small_model import require_assets

pytestmark = pytest.mark.assets
ROOT = Path(__file__).resolve().parents[1]


def devnet_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "patches"), env.get("PYTHONPATH", "")])
    return env


def devnet(root: Path, *args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "devnet", "--root", str(root), *args], cwd=ROOT, env=devnet_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen)


def processes_mentioning(root: Path) -> list[psutil.Process]:
    """Live processes whose command line names the run folder (every child of a devnet run does)."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and str(root) in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            continue
    return found


@pytest.fixture(scope="module")
def tiny_start(tmp_path_factory) -> Path:
    """A tiny random Llama with the GPT-2 tokenizer, within the bundled competition's limits (4,096 positions)."""
    require_assets()
    folder = tmp_path_factory.mktemp("start") / "tiny"
    torch.manual_seed(1)
    transformers_llama.LlamaForCausalLM(tiny_config(max_position_embeddings=4096)).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir() / name, folder / name)
    return folder


def test_ctrl_c_stops_every_child_and_exits_130(tmp_path, tiny_start):
    root = tmp_path / "run"
    proc = devnet(root, "--quick", "--model", str(tiny_start))
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "validator: daemon pid" in line:
            break
    deadline = time.monotonic() + 60
    while not (root / "logs" / "seed-publish.log").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the seed's publish and the validator daemon are both running now
    descendants = psutil.Process(proc.pid).children(recursive=True)  # the validator's worker process included
    commands = {" ".join(p.cmdline()[2:4]) for p in descendants}
    assert {"validator run", "miner publish"} <= commands, commands
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    text = "".join(lines) + out
    assert proc.returncode == 130, text
    assert re.search(r"interrupted \(SIGINT\) during 'seed publishes' after \d+ s; stopped seed-publish, validator",
                     text), text
    assert processes_mentioning(root) == []
    assert [p for p in descendants if _alive(p)] == []


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _claims(text: str) -> dict[str, str]:
    return {m.group(2): m.group(1) for m in re.finditer(r"\[(ok|FAILED)\] ([a-z ]+):", text)}


def check_finished_run(root: Path, proc: subprocess.Popen, timeout: float) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    assert _claims(out) == {"growth without loss increase": "ok", "training lowers the loss": "ok",
                            "the copier gets nothing": "ok", "weights move to the better model": "ok"}, out
    assert "all four hold" in out and "duplicate" in out
    assert (root / "report" / "report.html").stat().st_size > 10_000
    for name in ("validator", "seed-publish", "trainer-train", "grower-verify", "copier-publish", "report"):
        assert (root / "logs" / f"{name}.log").stat().st_size > 0
    assert processes_mentioning(root) == []
    return out


def test_the_whole_story_on_a_tiny_model(tmp_path, tiny_start):
    root = tmp_path / "run"
    proc = devnet(root, "--quick", "--model", str(tiny_start), "--set", "lr=1e-2", "--set", "train_steps=10")
    out = check_finished_run(root, proc, 900)
    assert re.search(r"round: block 10, 1 evaluated, 0 rejected; round weights seed 1\.00", out)
    assert re.search(r"round: block 20, 3 evaluated, 1 rejected", out)


@pytest.mark.slow
def test_the_quick_configuration_on_the_small_trained_model(tmp_path):
    require_assets()
    root = tmp_path / "run"
    check_finished_run(root, devnet(root, "--quick"), 1800)
