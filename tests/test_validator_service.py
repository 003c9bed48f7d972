"""The daemon as a service: a real `python -m validator run` on an embedded network with nothing committed.

It completes its empty rounds, answers `status` and a metrics scrape over loopback while it runs, re-reads its
config file on SIGHUP, and exits 0 within a few seconds of SIGTERM, writing JSON lines (`--logging.json`).
"""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from network import ROOT, Network, validator_env

pytestmark = pytest.mark.assets

# SIGTERM -> the daemon at its safe point with services closed ("stopped after ..." logged): a few seconds.
# The process exit after that is the interpreter's teardown of torch/transformers: ~0.5 s on an idle machine,
# up to ~5 s on a loaded 2-core one, so it is bounded separately and generously.
STOP_WITHIN_S = 3.0
EXIT_WITHIN_S = 15.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lines:
    """The daemon's stderr, line by line, from a reader thread."""

    def __init__(self, stream) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [self._queue.put(line) for line in stream], daemon=True).start()

    def wait_for(self, text: str, timeout_s: float = 180.0) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"no {text!r} within {timeout_s} s; saw:\n" + "".join(self.seen[-30:]))

    def rest(self, timeout_s: float = 5.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self.seen.append(self._queue.get(timeout=0.2))
            except queue.Empty:
                return


def terminate(process: subprocess.Popen, lines: Lines) -> tuple[int, float, float]:
    """SIGTERM; (exit code, seconds to the "stopped after" line, seconds to the process exit)."""
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    lines.wait_for("stopped after", timeout_s=60)
    stopped = time.monotonic() - sent
    code = process.wait(timeout=60)
    return code, stopped, time.monotonic() - sent


def check_stop(code: int, stopped: float, exited: float, lines: Lines) -> None:
    tail = "".join(lines.seen[-12:])
    assert code == 0, tail
    assert stopped < STOP_WITHIN_S, f"{stopped:.1f} s to stop:\n{tail}"
    assert exited < EXIT_WITHIN_S, f"{exited:.1f} s to exit:\n{tail}"


def test_daemon_reloads_on_sighup_and_stops_cleanly_on_sigterm(tmp_path):
    net = Network(tmp_path)
    net.validator("v1")
    config = tmp_path / "validator.yaml"
    config.write_text("revisit_rounds: 10\n")
    port = free_port()
    command = net.validator_command("v1", tmp_path / "state", "--logging.json", "--metrics.port", str(port),
                                    "--config", str(config))
    process = subprocess.Popen(command, cwd=ROOT, env=validator_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    lines = Lines(process.stderr)
    try:
        lines.wait_for(": done")  # an empty round (no commitments) still goes plan -> score -> weights -> done
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            scraped = answer.read().decode()
        completed = [s.value for f in text_string_to_metric_families(scraped) for s in f.samples
                     if s.name == "sn29_validator_rounds_completed_total"]
        assert completed and completed[0] >= 1
        status = subprocess.run([sys.executable, "-m", "validator", "status", "--state.dir", str(tmp_path / "state"),
                                 "--json"], cwd=ROOT, env=validator_env(), capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["last_round"]["state"] in ("evaluating", "scored", "done")

        second = subprocess.run(net.validator_command("v1", tmp_path / "state"), cwd=ROOT, env=validator_env(),
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 1 and "another validator is running" in second.stderr

        process.send_signal(signal.SIGHUP)
        lines.wait_for("config reloaded: nothing changed", timeout_s=30)
        config.write_text("revisit_rounds: 5\n")
        process.send_signal(signal.SIGHUP)
        lines.wait_for("config reloaded: rebuilding services", timeout_s=30)

        code, stopped, exited = terminate(process, lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines.rest()
    check_stop(code, stopped, exited, lines)
    records = [json.loads(line) for line in lines.seen if line.strip()]  # every line is one JSON object
    messages = [r["message"] for r in records]
    assert any("stop requested" in m for m in messages) and any(m.startswith("stopped after") for m in messages)
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)


def model_rows(state_dir) -> list[dict]:
    from validator.state.queries import StateView, state_file

    try:
        with StateView(state_file(state_dir)) as view:
            return [dict(r) for r in view.conn.execute("SELECT * FROM round_models")]
    except Exception:  # not created yet
        return []


def test_sigterm_during_an_evaluation_stops_within_seconds_and_the_model_is_redone(tmp_path):

    from network import random_model

    net = Network(tmp_path)
    net.validator("v1")
    net.publish(net.miner("m1"), random_model(tmp_path / "m1", seed=1), "alice/tiny")
    state_dir = tmp_path / "state"
    command = net.validator_command("v1", state_dir, "--logging.json")
    command[command.index("--round.samples") + 1] = "64"  # a longer evaluation: a wider window to stop in
    process = subprocess.Popen(command, cwd=ROOT, env=validator_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    lines = Lines(process.stderr)
    try:
        lines.wait_for("planned")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # the model is claimed: downloading, verifying or being evaluated
            if any(r["state"] == "running" for r in model_rows(state_dir)):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the model never reached its evaluation:\n" + "".join(lines.seen[-20:]))
        code, stopped, exited = terminate(process, lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines.rest()
    check_stop(code, stopped, exited, lines)
    (row,) = model_rows(state_dir)
    print(f"SIGTERM: safe point after {stopped:.2f} s, exit after {exited:.2f} s, model {row['state']}")
    if row["state"] == "pending":  # interrupted: back to pending, to be redone (not held against the model)
        assert row["message"] == "interrupted by shutdown"
    else:  # the evaluation won the race against the signal
        assert row["state"] == "evaluated"

    again = subprocess.run(net.validator_command("v1", state_dir, "--max-rounds", "1"), cwd=ROOT,
                           env=validator_env(), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    status = subprocess.run([sys.executable, "-m", "validator", "status", "--state.dir", str(state_dir), "--json"],
                            cwd=ROOT, env=validator_env(), capture_output=True, text=True, timeout=60)
    (model,) = json.loads(status.stdout)["competitions"]["tiny"]
    assert model["state"] == "evaluated" and model["mean_loss"] > 0 and model["win_rate"] is not None
