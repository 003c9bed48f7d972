"""Composed width + depth + MLP growth of the small trained model (SmolLM2-135M, Llama and Phi3 forms),
verified on held-out corpus text with the validators' loss routine."""

from __future__ import annotations

import pytest
import torch

from miner.growth import GrowthPlan, Hidden, Intermediate, NumLayers, grow
from node.assets.layout import AssetLayout
from node.lineage import verify_growth
from small_model import SMALL_MODELS, held_out_ids, require_assets

pytestmark = pytest.mark.assets

# hidden 576 -> 768 (heads 9/3 -> 12/4, group 3 kept), MLP 1536 -> 2048, 30 -> 32 layers
PLAN = [Hidden(768), Intermediate(2048), NumLayers(32)]


@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_small_model_composed_growth_is_exact(tmp_path, family):
    require_assets()
    parent = AssetLayout.default().model_dir(SMALL_MODELS[family])
    report = grow(parent, tmp_path / "child", GrowthPlan(list(PLAN), seed=1))
    assert report.exact and report.config["num_attention_heads"] == 12 and report.config["num_key_value_heads"] == 4
    samples = [ids[:64] for ids in held_out_ids(family, count=2)]
    result = verify_growth(parent, tmp_path / "child", samples=samples, dtype=torch.float32)
    assert result.ok, result.summary()
    assert result.structure.identity_positions == [15, 31]
    assert result.function.max_abs_delta <= 1e-4, result.summary()  # measured 0.0 (fp32, this CPU)
    assert min(result.function.parent_losses) > 10  # real text, a real trained model: not a trivial check
