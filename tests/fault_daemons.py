"""Validator daemons as real processes for the fault suites: a small network, lives started and killed, the
state database and the chain's weight history read back and checked.

The network (`kill_network`) has two competitions. In `tiny` (70% of the reward) bob commits a clearly good
model (log-unigram logits), dave a sharper copy of bob's logits (worse) and a copier re-uploads bob's files
(rejected as a duplicate). In `rand` (30%, no advantage for the earlier commitment) alice and carol commit random
tiny models that win different samples each round, so win rates and the moving average move from round to round.
Rounds are anchored every 10 blocks; the clock moves only when a test advances it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from safetensors.torch import load_file, save_file

from network import ROOT, Network, competitions_document, random_model, unigram_model, validator_env

INTERVAL = 10
SAMPLES = "6"


def sharpened(src: Path, dst: Path, factor: float) -> Path:
    """A copy of `src` whose logits are scaled by `factor` (lm_head times `factor`): a different model."""
    import shutil

    shutil.copytree(src, dst)
    weights = dst / "model.safetensors"
    tensors = load_file(weights)
    tensors["lm_head.weight"] = tensors["lm_head.weight"] * factor
    save_file(tensors, weights, metadata={"format": "pt"})
    return dst


def kill_network(root: Path, validators: tuple[str, ...]) -> Network:
    """The module docstring's network with `validators` registered; `net.keys` maps names to hotkeys."""
    net = Network(root, interval=INTERVAL)
    document = competitions_document(reward=0.7)
    document["rand"] = {**document["tiny"], "reward": 0.3, "advantage_initial": 0.0}
    net.competitions.write_text(json.dumps(document))
    net.keys = {name: net.validator(name).hotkey.ss58_address for name in validators}
    miners = {name: net.miner(name) for name in ("alice", "bob", "carol", "dave", "copier")}
    net.keys.update({name: w.hotkey.ss58_address for name, w in miners.items()})
    net.publish(miners["alice"], random_model(root / "alice", seed=1), "alice/tiny", "rand")
    net.chain.advance(1)
    net.publish(miners["bob"], unigram_model(root / "bob"), "bob/unigram")
    net.chain.advance(1)
    net.publish(miners["copier"], root / "bob", "copier/unigram")
    net.publish(miners["carol"], random_model(root / "carol", seed=2), "carol/tiny", "rand")
    net.chain.advance(1)
    net.publish(miners["dave"], sharpened(root / "bob", root / "dave", 1.15), "dave/sharp")
    net.chain.advance(INTERVAL - 3)  # block 10: the first round
    return net


def uid_of(net: Network, name: str) -> int:
    return net.chain.metagraph().uid_of(net.keys[name])


class Life:
    """One run of `python -m validator run` in a session of its own, logging JSON lines to a file."""

    def __init__(self, net: Network, name: str, log_path: Path, *extra: str, env: dict[str, str] | None = None):
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        command = net.validator_command(name, net.root / f"state-{name}", "--logging.json", "--round.samples",
                                        SAMPLES, *extra)
        self._log = log_path.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(command, env={**validator_env(), **(env or {})}, cwd=ROOT, stdout=self._log,
                                     stderr=self._log, start_new_session=True)
        self.started = time.monotonic()

    def messages(self) -> list[str]:
        out = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                out.append(str(json.loads(line)["message"]))
            except (ValueError, KeyError, TypeError):
                out.append(line)  # a traceback or a line cut by the kill
        return out

    def said(self, fragment: str) -> bool:
        return any(fragment in m for m in self.messages())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """kill -9 of the whole group (the daemon and its evaluation worker)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.wait()

    def wait(self, timeout: float = 60) -> int:
        code = self.proc.wait(timeout)
        self._log.close()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a worker left behind by a daemon killed alone
        except ProcessLookupError:
            pass
        return code

    def wait_for(self, *fragments: str, timeout: float = 300) -> None:
        """Until one log message contains every fragment."""
        wait_until(lambda: any(all(f in m for f in fragments) for m in self.messages()), timeout,
                   f"a log line with {fragments}", self)

    def wait_ready(self, timeout: float = 300) -> None:
        """Until the daemon's evaluation worker has started (after the torch import and the warm-up)."""
        wait_until(lambda: self.said("evaluation worker"), timeout, "the evaluation worker ready", self)

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.messages()[-n:])


def wait_until(what: Callable[[], bool], timeout: float, why: str, life: Life | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        if life is not None and not life.alive():
            raise AssertionError(f"{why}: the daemon exited ({life.proc.returncode}):\n{life.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{why}: not after {timeout:.0f} s" + (f"\n{life.tail()}" if life else ""))
        time.sleep(0.05)


def wait_round(net: Network, name: str, block: int, *, timeout: float = 300, life: Life | None = None,
               or_exit: bool = False) -> None:
    """Until validator `name` has finished round `block` (or, with `or_exit`, `life` has exited)."""
    if or_exit and life is not None:
        wait_until(lambda: not life.alive() or round_state(net, name, block) == "done", timeout,
                   f"{name} round {block} or its exit")
    else:
        wait_until(lambda: round_state(net, name, block) == "done", timeout, f"{name} round {block}", life)


def read_db(path: Path) -> sqlite3.Connection:
    """The validator's database, read-only (the daemon may be writing)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    return conn


def state_path(net: Network, name: str) -> Path:
    return net.root / f"state-{name}" / "state.sqlite"


def round_state(net: Network, name: str, block: int) -> str | None:
    path = state_path(net, name)
    if not path.exists():
        return None
    with read_db(path) as conn:
        try:
            row = conn.execute("SELECT state FROM rounds WHERE block = ?", (block,)).fetchone()
        except sqlite3.OperationalError:  # the schema is not created yet
            return None
    return None if row is None else str(row["state"])


def ema_by_round(net: Network, name: str) -> dict[int, dict[str, float]]:
    with read_db(state_path(net, name)) as conn:
        out: dict[int, dict[str, float]] = {}
        for r in conn.execute("SELECT round_block, hotkey, value FROM ema ORDER BY round_block, hotkey"):
            out.setdefault(int(r["round_block"]), {})[r["hotkey"]] = float(r["value"])
    return out


def results_by_round(net: Network, name: str) -> dict[int, list[tuple]]:
    with read_db(state_path(net, name)) as conn:
        out: dict[int, list[tuple]] = {}
        for r in conn.execute("SELECT * FROM results ORDER BY round_block, competition, hotkey"):
            out.setdefault(int(r["round_block"]), []).append(
                (r["competition"], r["hotkey"], r["win_rate"], r["weight"], r["mean_loss"], r["samples"]))
    return out
