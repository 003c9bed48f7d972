"""The streamed child is a normal checkpoint: sharded safetensors + index, loadable by transformers."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open
from transformers import AutoModelForCausalLM

import transformers_llama  # noqa: F401  (registers the patched classes)
import transformers_phi3  # noqa: F401
from miner.growth import GrowthPlan, Hidden, Intermediate, Stack, grow
from tiny_models import random_ids, tiny_model


@pytest.mark.parametrize("family", ["llama", "phi3"])
def test_sharded_child_loads_with_auto_model(tmp_path, family):
    parent_dir = tmp_path / "parent"
    parent = tiny_model(family)
    parent.save_pretrained(parent_dir)
    (parent_dir / "tokenizer.json").write_text("{}")
    (parent_dir / "tokenizer_config.json").write_text("{}")
    limit = 200_000
    report = grow(parent_dir, tmp_path / "child", GrowthPlan([Hidden(128), Intermediate(256), Stack(2)]),
                  max_shard_bytes=limit)
    child_dir = tmp_path / "child"
    index = json.loads((child_dir / "model.safetensors.index.json").read_text())
    shards = sorted(child_dir.glob("model-*.safetensors"))
    assert len(shards) == report.shards > 3
    assert set(index["weight_map"].values()) == {s.name for s in shards}
    assert index["metadata"]["total_size"] == report.bytes_written
    for shard in shards:
        with safe_open(shard, "pt") as handle:
            names = list(handle.keys())  # noqa: SIM118
            size = sum(handle.get_tensor(n).nbytes for n in names)
        assert size <= limit or len(names) == 1  # a single oversized tensor gets its own shard
        assert all(index["weight_map"][n] == shard.name for n in names)
    assert (child_dir / "tokenizer.json").is_file() and (child_dir / "tokenizer_config.json").is_file()
    assert not (tmp_path / "child.partial").exists()
    config = json.loads((child_dir / "config.json").read_text())
    assert config["norm_divisor"] == 64 and config["hidden_size"] == 128
    assert config["architectures"] == [f"Sliced{type(parent).__name__}"]

    child = AutoModelForCausalLM.from_pretrained(child_dir)
    assert type(child).__module__.startswith(f"transformers_{family}")
    ids = random_ids(96)
    with torch.no_grad():
        assert torch.equal(child(ids).logits, parent(ids).logits)


def test_refuses_to_overwrite(tmp_path):
    tiny_model("llama").save_pretrained(tmp_path / "parent")
    (tmp_path / "child").mkdir()
    with pytest.raises(FileExistsError):
        grow(tmp_path / "parent", tmp_path / "child", GrowthPlan([Hidden(96)]))
    grow(tmp_path / "parent", tmp_path / "child", GrowthPlan([Hidden(96)]), overwrite=True)
    assert (tmp_path / "child" / "config.json").is_file()


def test_unchanged_width_keeps_stock_architecture(tmp_path):
    tiny_model("llama").save_pretrained(tmp_path / "parent")
    report = grow(tmp_path / "parent", tmp_path / "child", GrowthPlan([Intermediate(192), Stack(2)]))
    assert report.config["architectures"] == ["LlamaForCausalLM"]  # norm_divisor == hidden: stock computes it
    assert report.config["norm_divisor"] == 64
