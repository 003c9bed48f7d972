"""The validator's state database: guarded transitions, sweeps, and nothing done or counted twice."""

from __future__ import annotations

import math

import pytest

from validator.state import LossRow, PlannedModel, RoundResult, StaleTransition, StateStore, Verdict

MODELS = [PlannedModel("hk-a", 0, "c1", "ns:a:" + "1" * 40 + ":h:c1", 10, "new"),
          PlannedModel("hk-b", 1, "c1", "ns:b:" + "2" * 40 + ":h:c1", 12, "pool")]


def planned(tmp_path, block=100) -> StateStore:
    state = StateStore(tmp_path / "state.sqlite")
    state.plan_round(block, "0xab", 2**63 + 5, "{}", "sha", {"hk-a": 0, "hk-b": 1}, 3, MODELS, {"c1": ["s1", "s2"]})
    return state


def test_plan_is_stored_once_with_a_u64_seed(tmp_path):
    state = planned(tmp_path)
    row = state.round(100)
    assert (row["state"], int(row["seed"]), row["my_uid"]) == ("evaluating", 2**63 + 5, 3)
    assert state.round_samples(100, "c1") == ["s1", "s2"]
    assert [r["hotkey"] for r in state.round_models(100)] == ["hk-a", "hk-b"]
    with pytest.raises(StaleTransition):
        state.plan_round(100, "0xab", 1, "{}", "sha", {}, None, [], {})
    assert state.count("rounds_planned") == 1


def test_model_transitions_are_guarded_and_a_sweep_returns_abandoned_work(tmp_path):
    state = planned(tmp_path)
    state.claim_model(100, "hk-a")
    with pytest.raises(StaleTransition):
        state.claim_model(100, "hk-a")  # a second claim (another life of the process) is refused
    assert state.sweep() == 1  # the process "died" while running hk-a
    state.claim_model(100, "hk-a")
    rows = [LossRow("s1", 3.5, 10), LossRow("s2", math.nan, 0)]
    verdict = Verdict("hk-a", MODELS[0].pointer, "ok", content_hash="H", parameters=5)
    state.finish_model(100, "hk-a", "evaluated", content_hash="H", verdict=verdict, losses=("p", "float32", rows),
                       evaluated_samples=2)
    with pytest.raises(StaleTransition):  # finishing twice would store and count the losses twice
        state.finish_model(100, "hk-a", "evaluated", content_hash="H", losses=("p", "float32", rows),
                           evaluated_samples=2)
    cached = state.cached_losses("H", "p", "float32", ["s1", "s2", "s3"])
    assert cached["s1"].loss == 3.5 and math.isinf(cached["s2"].loss) and "s3" not in cached
    assert state.count("samples_evaluated") == 2 and state.count("models_evaluated") == 1
    assert state.verdict("hk-a", MODELS[0].pointer)["parameters"] == 5


def test_release_puts_a_transient_failure_back_and_counts_it(tmp_path):
    state = planned(tmp_path)
    state.claim_model(100, "hk-b")
    state.release_model(100, "hk-b", "hub_unavailable", "down")
    row = {r["hotkey"]: r for r in state.round_models(100)}["hk-b"]
    assert (row["state"], row["attempts"], row["reason"]) == ("pending", 1, "hub_unavailable")
    assert state.count("transient_failures", "hub_unavailable") == 1


def test_scoring_and_weights_happen_once_per_round(tmp_path):
    state = planned(tmp_path)
    results = [RoundResult("c1", "hk-a", 0, 1.0, 1.0, 2.0, 2)]
    state.score_round(100, results, {"hk-a": 0.5}, {"c1": [("hk-a", "p")]}, [("hk-b", "copy")])
    with pytest.raises(StaleTransition):
        state.score_round(100, results, {"hk-a": 0.5}, {"c1": []})
    assert state.ema() == {"hk-a": 0.5} and state.latest_ema_before(101) == {"hk-a": 0.5}
    assert {r["hotkey"]: r["reason"] for r in state.round_models(100)}["hk-b"] == "duplicate"
    assert state.pool_before(101, "c1") == [("hk-a", "p")]
    state.begin_weights(100, {0: 1.0})
    with pytest.raises(StaleTransition):
        state.begin_weights(100, {0: 1.0})
    state.end_weights(100, "set", chain_block=105)
    with pytest.raises(StaleTransition):
        state.end_weights(100, "set", chain_block=106)
    assert state.last_weights_set()["chain_block"] == 105 and state.count("weights_set") == 1
    state.finish_round(100)
    with pytest.raises(StaleTransition):
        state.finish_round(100)
    assert state.count("rounds_completed") == 1


def test_reopening_keeps_everything_and_rejects_another_schema(tmp_path):
    planned(tmp_path).close()
    again = StateStore(tmp_path / "state.sqlite")
    assert again.round(100)["state"] == "evaluating"
    again.set_meta("schema_version", "99")
    again.close()
    with pytest.raises(RuntimeError, match="schema 99"):
        StateStore(tmp_path / "state.sqlite")


def test_a_duplicate_counts_as_evaluated_so_it_does_not_take_a_newcomers_place_every_round(tmp_path):
    """Found under load: a copy rejected as a duplicate was never "evaluated", so every later round picked it
    again as "new" (oldest commit first) and, with the pool full, it took the only newcomer slots for ever."""
    from validator.select import Candidate, History, select

    state = planned(tmp_path)  # hk-a (commit 10) and its copy hk-b (commit 12)
    for hotkey in ("hk-a", "hk-b"):
        state.claim_model(100, hotkey)
        state.finish_model(100, hotkey, "evaluated", content_hash="H", evaluated_samples=2)
    state.score_round(100, [RoundResult("c1", "hk-a", 0, 1.0, 1.0, 2.0, 2)], {"hk-a": 1.0},
                      {"c1": [("hk-a", MODELS[0].pointer)]}, [("hk-b", "same files as hk-a")])
    assert state.last_evaluated() == {("hk-a", MODELS[0].pointer): 100, ("hk-b", MODELS[1].pointer): 100}
    candidates = [Candidate(m.hotkey, m.uid, m.pointer, m.commit_block, "c1") for m in MODELS]
    candidates.append(Candidate("hk-new", 2, "ns:n:" + "3" * 40 + ":h:c1", 105, "c1"))
    history = History(state.pool_before(110, "c1"), (), state.discarded(), (), state.last_evaluated())
    chosen = select(candidates, history, favourites=[], limit=2, pend_size=1, round_block=110, revisit_every=100)
    assert [(c.hotkey, role) for c, role in chosen] == [("hk-a", "pool"), ("hk-new", "new")]
