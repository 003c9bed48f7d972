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

pytestmark = [pytest.mark.assets, pytest.mark.slow]

STOP_WITHIN_S = 5.0


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

        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        took = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    lines.rest()
    assert code == 0, "".join(lines.seen[-30:])
    assert took < STOP_WITHIN_S, f"took {took:.1f} s to stop"
    records = [json.loads(line) for line in lines.seen if line.strip()]  # every line is one JSON object
    messages = [r["message"] for r in records]
    assert any("stop requested" in m for m in messages) and any(m.startswith("stopped after") for m in messages)
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
