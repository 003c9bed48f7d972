"""Logs and progress: JSON lines carry the round and model of the step they were emitted in; progress is drawn on
a terminal only, with log lines kept whole above it."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest
from rich.console import Console

from validator import logs, progress


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    progress.configure(json_lines=True)  # off again


def test_json_lines_carry_the_bound_round_and_hotkey(capsys, restore_logging):
    logs.setup_logging(json_lines=True)
    log = logging.getLogger("validator.test")
    with progress.step("round 7: model 1/1", round=7, hotkey="5Hot"):
        log.info("evaluated %d samples", 12)
        log.warning("explicit", extra={"hotkey": "5Other"})
    log.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(r["message"], r.get("round"), r.get("hotkey")) for r in lines] == [
        ("evaluated 12 samples", 7, "5Hot"), ("explicit", 7, "5Other"), ("outside", None, None)]
    assert not progress.enabled()  # JSON lines never draw


def test_nothing_is_drawn_when_stderr_is_not_a_terminal(capsys, restore_logging):
    logs.setup_logging(json_lines=False)
    assert not progress.enabled()  # pytest's captured stderr is a file, like a log file
    with progress.step("downloading"):
        logging.getLogger("validator.test").info("a line")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a line" in err and "downloading" not in err


def test_a_terminal_shows_the_step_and_keeps_log_lines_whole(restore_logging):
    screen = io.StringIO()
    logs.setup_logging(json_lines=False)
    progress.configure(json_lines=False, console=Console(file=screen, force_terminal=True, width=100))
    with progress.step("round 9: model 2/3 miner/m@abc", round=9, hotkey="5Hot"):
        time.sleep(0.3)  # the live display refreshes
        logging.getLogger("validator.test").info("model evaluated in the middle of the spinner")
        time.sleep(0.2)
    drawn = screen.getvalue()
    assert "round 9: model 2/3 miner/m@abc" in drawn
    assert any(line.endswith("validator.test: model evaluated in the middle of the spinner")
               for line in drawn.replace("\r", "\n").splitlines())
