"""The service files under scripts/: the systemd unit passes `systemd-analyze verify`, the pm2 file loads in node,
and both run the daemon command the validator's CLI accepts, stopping it with the signal it handles."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from validator.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "scripts" / "sn29-validator.service"
PM2 = ROOT / "scripts" / "ecosystem.config.js"


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read(UNIT)
    return parser


def test_systemd_unit_stops_with_sigterm_reloads_with_sighup_and_restarts():
    service = unit()["Service"]
    assert service["KillSignal"] == "SIGTERM" and service["Restart"] == "always"
    assert int(service["TimeoutStopSec"]) >= 10
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    command = service["ExecStart"].split()
    assert command[1:4] == ["-m", "validator", "run"]
    args = build_parser().parse_args(command[3:])  # the flags the unit passes are the CLI's own
    assert args.command == "run" and args.config == "/etc/sn29-validator.yaml"


def test_systemd_unit_verifies(tmp_path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text().replace("/opt/sn29-node/.venv/bin/python", sys.executable)
    text = text.replace("WorkingDirectory=/opt/sn29-node", f"WorkingDirectory={ROOT}")
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and UNIT.name not in done.stderr, done.stderr


def test_pm2_file_loads_and_runs_the_daemon():
    node = shutil.which("node") or shutil.which("nodejs")
    if node is None:
        pytest.skip("node is not installed (pm2 needs it anyway)")
    done = subprocess.run([node, "-e", f"console.log(JSON.stringify(require({json.dumps(str(PM2))})))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (app,) = json.loads(done.stdout)["apps"]
    assert app["name"] == "sn29-validator" and app["interpreter"] == "none" and app["autorestart"] is True
    assert Path(app["cwd"]) == ROOT and app["script"] == str(ROOT / ".venv" / "bin" / "python")
    assert app["args"][:3] == ["-m", "validator", "run"] and app["kill_timeout"] >= 10_000
    assert build_parser().parse_args(app["args"][2:]).config == str(ROOT / "validator.yaml")
