"""The daemon's kill points (`validator.faultpoints`): off unless armed, kill at the n-th arrival, bad specs refused."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from validator import faultpoints

ROOT = Path(__file__).resolve().parents[1]


def validator_env() -> dict[str, str]:
    """The environment without torch-importing helpers (this suite stays light)."""
    env = {k: v for k, v in os.environ.items() if k != faultpoints.ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env

SCRIPT = """
import sys
from validator import faultpoints
for phase in sys.argv[1:]:
    faultpoints.reached(phase)
    print("passed", phase, flush=True)
"""


def run(spec: str | None, *phases: str) -> subprocess.CompletedProcess:
    env = validator_env()
    if spec is not None:
        env[faultpoints.ENV] = spec
    return subprocess.run([sys.executable, "-c", SCRIPT, *phases], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60, start_new_session=True)


def test_unarmed_points_do_nothing():
    done = run(None, "plan", "weights", "done")
    assert done.returncode == 0 and done.stdout.split("\n")[:3] == ["passed plan", "passed weights", "passed done"]


def test_the_nth_arrival_at_the_armed_phase_kills_the_process():
    done = run("download:2", "download", "evaluate", "download", "commit")
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines() == ["passed download", "passed evaluate"]


def test_a_delayed_kill_lets_the_phase_run_on_first():
    script_phases = ["evaluate"] + ["commit"] * 3
    done = subprocess.run([sys.executable, "-c", SCRIPT + "\nimport time; time.sleep(30)\n", *script_phases],
                          env={**validator_env(), faultpoints.ENV: "evaluate:1:0.2"}, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, start_new_session=True)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.splitlines() == ["passed evaluate", "passed commit", "passed commit", "passed commit"]


@pytest.mark.parametrize("spec", ["nowhere:1", "plan", "plan:0", "plan:x", "plan:1:-1", "plan:1:2:3"])
def test_a_malformed_spec_is_refused_with_what_is_wrong(spec):
    with pytest.raises(ValueError, match=faultpoints.ENV):
        faultpoints.parse(spec)


def test_a_spec_round_trips():
    assert faultpoints.parse("evaluate:3:0.25") == faultpoints.KillAt("evaluate", 3, 0.25)
    assert faultpoints.parse("evaluate:3:0.25").format() == "evaluate:3:0.25"
    assert faultpoints.parse("done:1").format() == "done:1"
