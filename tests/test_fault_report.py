"""`scripts/fault_report`'s reading, summing and printing, from synthetic tally files written by `record`."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from rich.console import Console

import fault_report
from fault_record import RECORD_DIR_ENV, record


@pytest.fixture
def records(tmp_path, monkeypatch):
    """Tallies as three suites would leave them: kills, consensus (with cosines), hub, and the load run."""
    monkeypatch.setenv(RECORD_DIR_ENV, str(tmp_path))
    record("kill", "SIGKILL mid-evaluation", injected=30, recovered=30, scale="full")
    record("kill", "SIGKILL mid-weights", injected=20, recovered=20, scale="full")
    record("consensus", "4 validators, staggered starts", injected=5, recovered=5, scale="full", cosine_min=0.9996)
    record("consensus", "one validator restarted", injected=3, recovered=3, scale="full", cosine_min=0.99991)
    record("hub", "hub down during download", injected=40, recovered=40, scale="full")
    record("load", "64 miners / 32 models, 20 rounds", injected=20, recovered=20, scale="full", rss_peak_mb=1650.2,
           rss_growth_mb=3.1, slope_s=0.0123, worst_dev=0.21, db_mb=2.5, rss_per_round_mb=[1600.0, 1650.2])
    return tmp_path


def test_summary_line_sums_injected_per_group_and_marks_missing_groups(records):
    summary = fault_report.summarize(fault_report.read_records(records))
    assert summary.injected == {"kill": 50, "consensus": 8, "hub": 40, "disk": None, "competitions": None,
                                "chain": None, "eval": None, "load": 20}
    assert fault_report.summary_line(summary) == (
        "kills=50 consensus_faults=8 hub_faults=40 disk_faults=n/a competitions_faults=n/a chain_faults=n/a "
        "eval_faults=n/a load_rounds=20 recovered=118 lost=0 double=0 cosine_min=0.9996 rss_peak_mb=1650 "
        "rss_growth_mb=3.1 slope_s=0.0123 worst_dev=0.21 db_mb=2.5")
    assert fault_report.exit_status(0, summary) == 0 and fault_report.exit_status(None, summary) == 0
    assert fault_report.exit_status(1, summary) == 1  # a failing suite fails the report


def test_lost_or_double_counted_records_fail_the_report_and_are_shown(records):
    record("disk", "disk full at commit", injected=10, recovered=9, lost=1, double=2, scale="full")
    rows = fault_report.read_records(records)
    summary = fault_report.summarize(rows)
    assert (summary.lost, summary.double, summary.injected["disk"]) == (1, 2, 10)
    assert fault_report.exit_status(0, summary) == 1
    out = io.StringIO()
    fault_report.render(rows, summary, Console(file=out, width=200))
    text = out.getvalue()
    assert "disk full at commit" in text and "SIGKILL mid-weights" in text and "cosine_min=0.9996" in text
    assert "n/a (no records)" in text  # chain, eval, competitions have no suite here
    assert "rss_per_round_mb" not in text  # per-round lists stay in the jsonl


def test_no_records_at_all_prints_na_everywhere_and_a_bad_line_is_a_clear_error(tmp_path):
    summary = fault_report.summarize(fault_report.read_records(tmp_path))
    line = fault_report.summary_line(summary)
    assert line.startswith("kills=n/a consensus_faults=n/a") and "cosine_min=n/a" in line and "lost=0" in line
    (tmp_path / "hub.jsonl").write_text(json.dumps({"group": "hub", "fault": "x"}) + "\n")
    with pytest.raises(fault_report.RecordError, match=r"hub.jsonl:1: a record needs"):
        fault_report.read_records(tmp_path)
    (tmp_path / "hub.jsonl").write_text("{not json\n")
    with pytest.raises(fault_report.RecordError, match=r"hub.jsonl:1: not JSON"):
        fault_report.read_records(tmp_path)


def test_the_suite_command_selects_the_scale_and_the_files_that_exist(tmp_path):
    for name in ("test_faults_kill.py", "test_faults_hub.py", "test_other.py"):
        (tmp_path / name).write_text("")
    files = fault_report.suite_files(tmp_path)
    assert [p.name for p in files] == ["test_faults_hub.py", "test_faults_kill.py"]  # no test_load.py there
    full = fault_report.suite_command(False, files)
    assert full[1:6] == ["-m", "pytest", "-q", "-m", "slow"] and full[6:8] == ["-k", "full"]
    assert fault_report.suite_command(True, files)[4:6] == ["-k", "short"]
    assert [p.name for p in fault_report.suite_files()][-1] == "test_load.py"


def test_the_command_line_reads_a_records_folder_and_exits_by_the_tallies(records):
    done = subprocess.run([sys.executable, str(fault_report.TESTS / "fault_report.py"), "--records", str(records)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("kills=50 consensus_faults=8 hub_faults=40")
    record("chain", "chain unreadable", injected=4, recovered=4, double=1, scale="full")
    done = subprocess.run([sys.executable, str(fault_report.TESTS / "fault_report.py"), "--records", str(records)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "chain_faults=4" in done.stdout and "double=1" in done.stdout


def test_a_suites_total_row_is_counted_once_not_added_to_its_per_fault_rows(tmp_path, monkeypatch):
    monkeypatch.setenv(RECORD_DIR_ENV, str(tmp_path))
    record("eval", "kill", injected=2, recovered=2, scale="full")
    record("eval", "hang", injected=3, recovered=3, scale="full")
    record("eval", "all", injected=5, recovered=5, scale="full")
    record("kill", "kill -9 plan", injected=4, recovered=4, scale="full")
    record("kill", "kill -9 total", injected=4, recovered=4, scale="full")
    record("chain", "reads", injected=7, recovered=7, scale="full")  # no total row: per-fault rows are summed
    summary = fault_report.summarize(fault_report.read_records(tmp_path))
    assert (summary.injected["eval"], summary.injected["kill"], summary.injected["chain"]) == (5, 4, 7)
    assert summary.recovered == 16
