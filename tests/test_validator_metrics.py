"""The Prometheus endpoint: scraped over loopback, counters read from the database (a restart neither resets nor
doubles them)."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from state_fixture import ROUNDS, SAMPLES, build_state
from validator.metrics import MetricsServer, start_metrics
from validator.settings import Settings
from validator.state import StateStore


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        assert answer.status == 200
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


P = "sn29_validator_"


def test_scrape_reports_what_the_database_counted(tmp_path):
    path = build_state(tmp_path)
    server = MetricsServer(path)  # 127.0.0.1, any free port
    try:
        assert server._server.server_address[0] == "127.0.0.1"
        got = scrape(server.port)
    finally:
        server.close()
    assert got[(P + "state_database_up", ())] == 1
    assert got[(P + "rounds_completed_total", ())] == len(ROUNDS)
    assert got[(P + "models_evaluated_total", ())] == 3 * len(ROUNDS)
    assert got[(P + "models_rejected_total", (("reason", "too_large"),))] == len(ROUNDS)
    assert got[(P + "models_failed_total", (("reason", "eval_timeout"),))] == 1
    assert got[(P + "samples_evaluated_total", ())] == 3 * SAMPLES * len(ROUNDS)
    assert got[(P + "cache_hits_total", ())] == 0 and got[(P + "spot_check_drifts_total", ())] == 0
    assert got[(P + "weight_writes_total", (("outcome", "set"),))] == 2
    assert got[(P + "weight_writes_total", (("outcome", "failed"),))] == 0
    assert got[(P + "samples_per_round", (("competition", "c1"),))] == SAMPLES
    assert got[(P + "last_round_block", ())] == ROUNDS[-1]
    # the last round evaluated 3 models x 6 samples x 100 tokens in 3 x 3.5 s inside the evaluation process
    assert got[(P + "evaluation_tokens_per_second", ())] == pytest.approx(1800 / 10.5)
    assert 0 <= got[(P + "seconds_since_weights_set", ())] < 600


def test_counters_survive_a_restart_without_doubling(tmp_path):
    path = build_state(tmp_path)
    first = MetricsServer(path)
    before = scrape(first.port)
    assert scrape(first.port)[(P + "rounds_completed_total", ())] == before[(P + "rounds_completed_total", ())]
    first.close()
    state = StateStore(path)  # the daemon restarts and counts one chain read error
    state.note_error("chain_errors", "read")
    state.close()
    second = MetricsServer(path)
    try:
        after = scrape(second.port)
    finally:
        second.close()
    assert after[(P + "rounds_completed_total", ())] == before[(P + "rounds_completed_total", ())] == len(ROUNDS)
    assert after[(P + "chain_errors_total", (("kind", "read"),))] == 1
    assert (P + "chain_errors_total", (("kind", "read"),)) not in before


def test_missing_database_reads_as_down_and_the_endpoint_is_off_by_default(tmp_path):
    server = MetricsServer(tmp_path / "none.sqlite")
    try:
        got = scrape(server.port)
    finally:
        server.close()
    assert got == {(P + "state_database_up", ()): 0}
    assert start_metrics(Settings(state_dir=str(tmp_path))) is None


def test_a_taken_port_names_the_setting_to_change(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="--metrics.port"):
            MetricsServer(tmp_path / "state.sqlite", port=taken.getsockname()[1])
