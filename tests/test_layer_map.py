"""Virtual (weight-tied) depth: a layer map equals its materialised copy, cached generation included."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from tiny_models import FAMILIES, random_ids, tiny_model

LAYER_MAP = [0, 1, 2, 3, 2, 3, 1]


def mapped_and_materialised(family: str):
    base = tiny_model(family)
    cls = FAMILIES[family]
    config = base.config.to_dict() | {"num_hidden_layers": len(LAYER_MAP)}
    mapped = cls(cls.config_class.from_dict(config | {"layer_map": LAYER_MAP})).eval()
    mapped.load_state_dict(base.state_dict())
    materialised = cls(cls.config_class.from_dict(config)).eval()
    state = {}
    for name, tensor in base.state_dict().items():
        if name.startswith("model.layers."):
            stored, rest = int(name.split(".")[2]), name.split(".", 3)[3]
            for position, source in enumerate(LAYER_MAP):
                if source == stored:
                    state[f"model.layers.{position}.{rest}"] = tensor
        else:
            state[name] = tensor
    materialised.load_state_dict(state)
    return base, mapped, materialised


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_layer_map_equals_materialised_model(family):
    base, mapped, materialised = mapped_and_materialised(family)
    ids = random_ids(base.config.vocab_size)
    with torch.no_grad():
        assert torch.equal(mapped(ids).logits, materialised(ids).logits)
    assert mapped.num_parameters() == base.num_parameters() < materialised.num_parameters()


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_cached_generation_matches_materialised(family):
    _, mapped, materialised = mapped_and_materialised(family)
    prompt = random_ids(mapped.config.vocab_size, batch=1, length=6)
    settings = dict(max_new_tokens=12, do_sample=False, pad_token_id=0, eos_token_id=None)
    with torch.no_grad():
        cached = mapped.generate(prompt, use_cache=True, **settings)
        uncached = mapped.generate(prompt, use_cache=False, **settings)
        reference = materialised.generate(prompt, use_cache=True, **settings)
    assert torch.equal(cached, reference) and torch.equal(uncached, reference)


def test_cache_has_one_slot_per_position():
    _, mapped, _ = mapped_and_materialised("llama")
    with torch.no_grad():
        out = mapped(random_ids(mapped.config.vocab_size, batch=1), use_cache=True)
    assert len(out.past_key_values.layers) == len(LAYER_MAP)
    keys = [layer.keys for layer in out.past_key_values.layers]
    assert not torch.equal(keys[2], keys[4])  # same stored layer, different inputs: separate slots


def test_checkpoint_stores_each_layer_once(tmp_path):
    _, mapped, _ = mapped_and_materialised("phi3")
    mapped.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["layer_map"] == LAYER_MAP and config["num_hidden_layers"] == len(LAYER_MAP)
    with safe_open(tmp_path / "model.safetensors", framework="pt") as handle:
        stored = {int(name.split(".")[2]) for name in handle.keys() if name.startswith("model.layers.")}  # noqa: SIM118
    assert stored == {0, 1, 2, 3}
    reloaded = FAMILIES["phi3"].from_pretrained(tmp_path).eval()
    ids = random_ids(mapped.config.vocab_size)
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, mapped(ids).logits)
