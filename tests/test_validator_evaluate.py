"""Round evaluation: the loss cache, deterministic spot checks, and a drifted cache discarded and rebuilt."""

from __future__ import annotations

import pytest

from network import random_model
from node.data import CorpusSource, TokenizerPolicy
from node.evaluation import EvalSettings
from node.worker import IsolatedWorker
from small_model import require_assets
from validator.evaluate import RoundEvaluator, drifted, policy_key, spot_check_ids
from validator.state import PlannedModel, StateStore

pytestmark = pytest.mark.assets


def store_losses(state: StateStore, block: int, result, content_hash: str, pkey: str) -> None:
    state.plan_round(block, "0x01", 1, "{}", "s", {}, None, [PlannedModel("hk", 0, "c", "p", 1, "new")], {})
    state.claim_model(block, "hk")
    state.finish_model(block, "hk", "evaluated", content_hash=content_hash, losses=(pkey, "float32", result.new_rows),
                       drop_cache=(pkey, "float32") if result.drift else None)


def test_cache_spot_checks_and_drift(tmp_path):
    require_assets()
    model = random_model(tmp_path / "m", seed=3)
    samples = CorpusSource(part="heldout").samples(seed=11, count=6)
    policy = TokenizerPolicy(free_tokenizer=True, cap_sample_len=300)
    pkey = policy_key(policy, None)
    state = StateStore(tmp_path / "state.sqlite")
    with IsolatedWorker() as worker:
        evaluator = RoundEvaluator(state, worker, timeout_s=300, spot_fraction=0.02, spot_max=10, tolerance=1e-3)
        cold = evaluator.losses(str(model), "H", samples, policy, pkey, EvalSettings(), seed=5)
        assert (cold.evaluated, cold.cached, cold.drift, len(cold.new_rows)) == (6, 0, False, 6)
        store_losses(state, 10, cold, "H", pkey)
        warm = evaluator.losses(str(model), "H", samples, policy, pkey, EvalSettings(), seed=5)
        assert (warm.evaluated, warm.cached, warm.drift, warm.new_rows) == (1, 6, False, [])
        assert warm.losses == cold.losses
        state.conn.execute("UPDATE losses SET loss = loss * 1.01")  # a poisoned cache
        healed = evaluator.losses(str(model), "H", samples, policy, pkey, EvalSettings(), seed=5)
        assert healed.drift and healed.evaluated == 6 and len(healed.new_rows) == 6
        assert healed.losses == cold.losses
        store_losses(state, 20, healed, "H", pkey)
    cached = state.cached_losses("H", pkey, "float32", [s.id for s in samples])
    assert [cached[s.id].loss for s in samples] == cold.losses


def test_spot_checks_are_deterministic_and_capped():
    ids = [f"s{i}" for i in range(1000)]
    picked = spot_check_ids(ids, 7, "H", 0.02, 10)
    assert len(picked) == 10 and picked == spot_check_ids(list(reversed(ids)), 7, "H", 0.02, 10)
    assert picked != spot_check_ids(ids, 8, "H", 0.02, 10) and len(spot_check_ids(ids[:40], 7, "H", 0.02, 10)) == 1
    assert spot_check_ids([], 7, "H", 0.02, 10) == []
    assert not drifted(10.0, 10.009, 1e-3) and drifted(10.0, 10.02, 1e-3)
    assert not drifted(float("inf"), float("inf"), 1e-3) and drifted(float("inf"), 3.0, 1e-3)
