"""The publish comparison rule and the state file, as pure functions (no models, no processes)."""

from __future__ import annotations

import json

import pytest

from miner.publish import PublishKey, StateFile, decide
from node.competitions import parse_competitions
from node.evaluation.model_job import JobResult
from node.scoring import advantage_factor

COMPETITION = parse_competitions({"c": {"reward": 1.0, "model_types": ["LlamaForCausalLM"], "model_size": 10**9,
                                        "parameters": 10**9, "dataset": "corpus", "free_tokenizer": True,
                                        "advantage_initial": 0.01, "advantage_decay": 0.5}}).entries["c"]


def job(losses: list[float]) -> JobResult:
    return JobResult(losses, [10] * len(losses), "sha", 0.0)


def test_a_sample_is_won_only_below_the_best_times_one_minus_the_margin() -> None:
    best_block, block = 100, 100 + 361  # one epoch old: margin 0.01 * 0.5
    factor = advantage_factor(best_block, block, advantage_initial=0.01, advantage_decay=0.5)
    assert factor == pytest.approx(0.995)
    best = [100.0, 100.0, 100.0, 100.0]
    at_threshold = [100.0 * factor] * 4  # exactly at the threshold: stays with the best
    result = decide(job(at_threshold), job(best), competition=COMPETITION, block=block, seed=1,
                    best_pointer="p", best_commit_block=best_block)
    assert result.win_rate == 0.0 and not result.wins and result.margin == pytest.approx(0.005)
    below = [100.0 * factor - 1e-9] * 3 + [99.9]  # three beyond the margin, one better but within it
    result = decide(job(below), job(best), competition=COMPETITION, block=block, seed=1,
                    best_pointer="p", best_commit_block=best_block)
    assert result.win_rate == 0.75 and result.wins
    assert result.candidate_loss_per_token < result.best_loss_per_token


def test_half_the_samples_is_not_enough_and_a_failed_sample_never_wins() -> None:
    best = [10.0, 10.0, 10.0, 10.0]
    half = [1.0, 1.0, 20.0, 20.0]
    result = decide(job(half), job(best), competition=COMPETITION, block=5, seed=1, best_pointer="p",
                    best_commit_block=5)
    assert result.win_rate == 0.5 and not result.wins
    failed = [1.0, 1.0, float("inf"), float("inf")]
    assert not decide(job(failed), job(best), competition=COMPETITION, block=5, seed=1, best_pointer="p",
                      best_commit_block=5).wins
    alone = decide(job(half), None, competition=COMPETITION, block=5, seed=1)
    assert alone.wins and alone.best_pointer is None and "nothing to beat" in alone.summary()


def test_state_file_is_set_aside_when_the_publish_changes(tmp_path) -> None:
    key = PublishKey("content", "hot", "a/b", "c")
    files = StateFile(tmp_path / "s.json")
    state, note = files.load(key)
    assert note is None and state.done("uploaded") is None
    state.record("uploaded", revision="r" * 40)
    files.save(state)
    again, note = files.load(key)
    assert note is None and again.done("uploaded") == {"revision": "r" * 40}
    other, note = files.load(PublishKey("changed", "hot", "a/b", "c"))
    assert other.steps == {} and "content_hash changed" in note
    (tmp_path / "s.json").write_text(json.dumps({"version": 1, "key": {"bogus": 1}, "steps": {}}))
    assert "malformed" in files.load(key)[1]
    with pytest.raises(ValueError, match="unknown publish step"):
        state.record("pushed")
