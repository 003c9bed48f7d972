"""Growth plans (operators registry, YAML/JSON), the layer-spec grammar, and head placement."""

from __future__ import annotations

import json

import pytest

from miner.growth import REGISTRY, GrowthPlan, Hidden, LayerSpecError, Stack, format_layer_spec, parse_layer_spec
from miner.growth.depth import Slot, assign_live
from node.lineage.placement import AxisMap, head_placement


def test_layer_spec_grammar():
    assert parse_layer_spec("0-1,2-5*3,4-5", 6) == [0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 2, 3, 4, 5, 4, 5]
    assert parse_layer_spec(" 0 , _*2 , 1 ", 2) == [0, None, None, 1]
    assert parse_layer_spec("paper:12-3456*5-56", 6) == parse_layer_spec("0-1,2-5*5,4-5", 6)
    assert len(parse_layer_spec("paper:123456*4", 6)) == 24
    spec = [0, 1, 2, None, 2, 3]
    assert parse_layer_spec(format_layer_spec(spec), 4) == spec
    for bad in ("", "0-", "3-1", "0-9", "a", "1*0", "paper:0-1"):
        with pytest.raises(LayerSpecError):
            parse_layer_spec(bad, 6)


@pytest.mark.parametrize(
    "spec",
    ["paper:123456*4", "paper:12-3456*5-56", "paper:12-345*7-6", "paper:123-456*7", "paper:1234-56*10",
     "paper:12-34*10-56", "paper:1-234*7-56", "paper:123*7-456"],
)
def test_every_partial_stacking_pattern_of_the_paper_has_a_live_chain(spec):
    placed, notes = assign_live([Slot(i) for i in parse_layer_spec(spec, 6)], 6)
    assert not notes and len(placed) == 24
    assert [p.source for p in placed if p.live] == list(range(6))


def test_plan_from_yaml_and_json(tmp_path):
    yaml_file = tmp_path / "plan.yaml"
    yaml_file.write_text("init: noisy\nseed: 5\noperators:\n  - {op: hidden, size: 128}\n  - op: stack\n    times: 2\n")
    plan = GrowthPlan.from_file(yaml_file)
    assert plan.init == "noisy" and plan.seed == 5
    assert plan.operators == [Hidden(128), Stack(2)]
    json_file = tmp_path / "plan.json"
    json_file.write_text(json.dumps(plan.to_dict()))
    assert GrowthPlan.from_file(json_file).to_dict() == plan.to_dict()
    assert {"hidden", "intermediate", "heads", "vocab", "dtype", "stack", "interpolate", "layers", "insert",
            "num_layers"} <= set(REGISTRY)


@pytest.mark.parametrize(
    "data",
    [{"operators": [{"op": "widen"}]}, {"operators": [{"op": "hidden", "width": 3}]}, {"init": "random"},
     {"seed": "x"}, {"colour": 1}],
)
def test_bad_plans_rejected(data):
    with pytest.raises(ValueError):
        GrowthPlan.from_dict(data)


def test_head_placement_rules():
    q, kv = head_placement(4, 2, 6, 3)  # same group size: parent is the prefix
    assert q.src == (0, 1, 2, 3, -1, -1) and kv.src == (0, 1, -1)
    q, kv = head_placement(4, 2, 8, 2)  # group 2 -> 4: re-slot queries into their KV group
    assert q.src == (0, 1, -1, -1, 2, 3, -1, -1) and kv.src == (0, 1)
    q, kv = head_placement(4, 1, 4, 2)  # group 4 -> 2: the KV head is duplicated
    assert q.src == (0, 1, 2, 3) and kv.src == (0, 0)
    with pytest.raises(ValueError):
        head_placement(4, 2, 4, 1)
    assert AxisMap((0, 1, -1, 3)).runs()[2].parent_start == 3
