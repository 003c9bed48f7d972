"""`python -m validator status`: the leaderboard and last round from the state database, as text and JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from state_fixture import HOTKEYS, ROUNDS, SAMPLES, build_state, pointer
from validator.state import PlannedModel, StateStore
from validator.state.queries import StateView

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def status(state_dir, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, os.path.join(ROOT, "patches"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "validator", "status", "--state.dir", str(state_dir), *extra],
                          capture_output=True, text=True, env=env, timeout=120)


def test_status_json_holds_the_leaderboard_the_round_and_the_weights(tmp_path):
    build_state(tmp_path)
    done = status(tmp_path, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["board_round"] == ROUNDS[-1] and sorted(out["competitions"]) == ["c1", "c2"]
    c1 = out["competitions"]["c1"]
    assert [m["hotkey"] for m in c1] == [HOTKEYS[n] for n in ("hk-a", "hk-b", "hk-c", "hk-d")]  # by weight
    best = c1[0]
    assert best["pointer"] == pointer("hk-a") and best["commit_block"] == 50 and best["parameters"] == 2_000_000
    assert abs(best["mean_loss"] - 1.8) < 1e-9 and abs(best["win_rate"] - 0.8) < 1e-9
    assert abs(best["ema"] - 0.5) < 1e-9
    assert (best["lineage"], best["lineage_parent"]) == ("certified", pointer("hk-b"))
    assert c1[1]["lineage"] == "none" and c1[1]["lineage_parent"] is None
    rejected, failed = c1[2], c1[3]
    assert (rejected["state"], rejected["reason"]) == ("rejected", "too_large")
    assert "9000000000 bytes" in rejected["message"] and rejected["mean_loss"] is None
    assert (failed["state"], failed["reason"], failed["message"]) == ("failed", "eval_timeout", "no result in 300 s")
    last = out["last_round"]
    assert (last["block"], last["state"], int(last["seed"])) == (120, "done", 2**63 + 120)
    assert last["samples"] == {"c1": SAMPLES, "c2": SAMPLES}
    assert (last["models"], last["evaluated"], last["rejected"], last["failed"]) == (5, 3, 1, 1)
    assert last["seconds"] is not None and last["seconds"] >= 0
    weights = out["weights_last_set"]
    assert (weights["round_block"], weights["chain_block"], weights["state"]) == (120, 123, "set")
    assert out["refused_pointers"][0]["reason"] == "bad_pointer"


def test_status_table_shows_every_column_an_operator_needs(tmp_path):
    build_state(tmp_path)
    done = status(tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for needle in ("last round 120 (done)", "seed 9223372036854775928", "samples c1 6, c2 6",
                   "models 5 (3 evaluated, 1 rejected, 1 failed)", "weights last set: round 120 at block 123",
                   "competition c1, round 120", "competition c2, round 120", "5HKAxx…xxxx", "miner/hk-a@",
                   "2.0M", "1.8000", "0.800", "0.500", "certified: miner/hk-b@", "too_large: revision is",
                   "eval_timeout: no result in 300 s", "bad_pointer"):
        assert needle in text, needle


def test_status_reads_a_round_still_in_progress_while_the_writer_holds_the_database(tmp_path):
    state = StateStore(tmp_path / "state.sqlite")
    state.plan_round(200, "0x01", 7, "{}", "sha", {"hk": 0}, None,
                     [PlannedModel("hk", 0, "c1", pointer("hk-a"), 10, "new")], {"c1": ["s1", "s2"]})
    state.claim_model(200, "hk")  # the daemon is evaluating and keeps its connection open
    with StateView(tmp_path / "state.sqlite") as view:
        seen = view.status(now=time.time())
    assert seen.board_round is None and seen.last_round.state == "evaluating"
    assert seen.last_round.pending == 1 and seen.last_round.seconds is None
    done = status(tmp_path)
    assert done.returncode == 0 and "no scored round yet" in done.stdout and "running for" in done.stdout
    state.close()


def test_status_without_a_database_says_so_and_exits_1(tmp_path):
    done = status(tmp_path / "missing")
    assert done.returncode == 1 and "no validator state" in done.stderr
    assert not (tmp_path / "missing" / "state.sqlite").exists()  # looking never creates one
