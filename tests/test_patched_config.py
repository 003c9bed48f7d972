"""Strict validation of the two added config keys, and SN29-style checkpoints loading into patched classes."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM

import transformers_llama
import transformers_phi3
from tiny_models import FAMILIES, TINY, random_ids, tiny_model


@pytest.mark.parametrize("bad", [0, -3, float("nan"), float("inf"), True, "64", [64]])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_bad_norm_divisor_is_rejected(family, bad):
    with pytest.raises(Exception, match="norm_divisor"):
        FAMILIES[family].config_class(**TINY, norm_divisor=bad)


@pytest.mark.parametrize(
    ("layer_map", "reason"),
    [
        ([0, 1, 2], "positions but num_hidden_layers"),
        ([0, 1, -1, 2], ">= 0"),
        ([0, 1, 3, 3], "never runs stored layer"),
        ([0, 1, 1.5, 2], "integers"),
        ([], "non-empty"),
    ],
)
def test_bad_layer_map_is_rejected(layer_map, reason):
    with pytest.raises(Exception, match=reason):
        transformers_llama.LlamaConfig(**TINY, layer_map=layer_map)


def test_valid_keys_round_trip_through_json(tmp_path):
    config = transformers_phi3.Phi3Config(**{**TINY, "num_hidden_layers": 6}, norm_divisor=48.0,
                                          layer_map=[0, 1, 2, 1, 2, 3])
    config.save_pretrained(tmp_path)
    loaded = AutoConfig.from_pretrained(tmp_path)
    assert isinstance(loaded, transformers_phi3.Phi3Config)
    assert loaded.norm_divisor == 48.0 and loaded.layer_map == [0, 1, 2, 1, 2, 3] and loaded.num_stored_layers == 4


@pytest.mark.parametrize(
    ("family", "architecture"),
    [("llama", "LlamaForCausalLM"), ("llama", "SlicedLlamaForCausalLM"),
     ("phi3", "Phi3ForCausalLM"), ("phi3", "SlicedPhi3ForCausalLM")],
)
@pytest.mark.parametrize("norm_divisor", [None, 40])
def test_sn29_checkpoints_load_patched_and_round_trip(tmp_path, family, architecture, norm_divisor):
    model = tiny_model(family, norm_divisor=norm_divisor)
    model.save_pretrained(tmp_path / "src")
    config_path = tmp_path / "src" / "config.json"
    raw = json.loads(config_path.read_text())
    raw["architectures"] = [architecture]
    if norm_divisor is None:
        raw.pop("norm_divisor", None)
    config_path.write_text(json.dumps(raw))

    loaded = AutoModelForCausalLM.from_pretrained(tmp_path / "src").eval()
    assert isinstance(loaded, FAMILIES[family])
    assert loaded.config.norm_divisor == norm_divisor
    ids = random_ids(model.config.vocab_size)
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, model(ids).logits)
    loaded.save_pretrained(tmp_path / "again")
    again = AutoModelForCausalLM.from_pretrained(tmp_path / "again").eval()
    assert again.config.norm_divisor == norm_divisor
    with torch.no_grad():
        assert torch.equal(again(ids).logits, model(ids).logits)
