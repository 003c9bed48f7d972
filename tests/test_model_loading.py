"""The evaluation loader's checks on untrusted checkpoints, and export to stock transformers."""

from __future__ import annotations

import json

import pytest
import torch
from transformers.models.llama.modeling_llama import LlamaForCausalLM as StockLlama
from transformers.models.phi3.modeling_phi3 import Phi3ForCausalLM as StockPhi3

from node.modeling import ModelLoadError, load_model_for_eval
from node.refusal import RefusalKind
from tiny_models import FAMILIES, random_ids, tiny_model, zero_pad_hidden
from transformers_growable.stock_export import export_to_stock

STOCK = {"llama": StockLlama, "phi3": StockPhi3}


def saved(tmp_path, model, name="m"):
    model.save_pretrained(tmp_path / name)
    return tmp_path / name


def edit_config(path, **changes):
    raw = json.loads((path / "config.json").read_text())
    raw.update(changes)
    (path / "config.json").write_text(json.dumps(raw))


def test_loads_patched_class_and_matches(tmp_path):
    model = tiny_model("phi3", norm_divisor=40)
    loaded = load_model_for_eval(saved(tmp_path, model))
    assert isinstance(loaded, FAMILIES["phi3"]) and not loaded.training
    ids = random_ids(model.config.vocab_size)
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, model(ids).logits)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_stock_class_refused_for_norm_divisor_checkpoint(tmp_path, family):
    path = saved(tmp_path, zero_pad_hidden(tiny_model(family), 96))
    with pytest.raises(ModelLoadError, match="stock class"):
        load_model_for_eval(path, model_class=STOCK[family])


def test_stock_class_allowed_when_divisor_equals_hidden(tmp_path):
    path = saved(tmp_path, tiny_model("llama", norm_divisor=64))
    assert isinstance(load_model_for_eval(path, model_class=StockLlama), StockLlama)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"auto_map": {"AutoModelForCausalLM": "evil.Model"}}, "remote code"),
        ({"architectures": ["LlamaForCausalLMEvil"]}, "architectures"),
        ({"architectures": ["LlamaForCausalLM", "Phi3ForCausalLM"]}, "architectures"),
        ({"model_type": "gpt2"}, "unsupported model_type"),
        ({"norm_divisor": -1}, "norm_divisor"),
    ],
)
def test_untrusted_config_rejected_with_reason(tmp_path, changes, reason):
    path = saved(tmp_path, tiny_model("llama"))
    edit_config(path, **changes)
    with pytest.raises(ModelLoadError, match=reason):
        load_model_for_eval(path)


def test_non_safetensors_weights_never_loaded(tmp_path):
    path = saved(tmp_path, tiny_model("llama"))
    (path / "model.safetensors").rename(path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="pickled weights") as refused:
        load_model_for_eval(path)
    assert refused.value.kind == RefusalKind.FORBIDDEN_FILE
    (path / "pytorch_model.bin").unlink()
    with pytest.raises(ModelLoadError, match="no model.safetensors") as refused:
        load_model_for_eval(path)
    assert refused.value.kind == RefusalKind.BAD_SAFETENSORS


def test_oversized_or_broken_config_rejected(tmp_path):
    path = saved(tmp_path, tiny_model("llama"))
    (path / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model_for_eval(path)
    (path / "config.json").write_text(" " * (2 << 20))
    with pytest.raises(ModelLoadError, match="limit"):
        load_model_for_eval(path)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_export_to_stock_is_close_and_drops_patched_keys(tmp_path, family):
    grown = zero_pad_hidden(tiny_model(family), 96)
    src = saved(tmp_path, grown, "grown")
    export_to_stock(src, tmp_path / "stock")
    config = json.loads((tmp_path / "stock" / "config.json").read_text())
    assert "norm_divisor" not in config and config["rms_norm_eps"] == pytest.approx(grown.config.rms_norm_eps * 64 / 96)
    stock = STOCK[family].from_pretrained(tmp_path / "stock").eval()
    ids = random_ids(grown.config.vocab_size)
    with torch.no_grad():
        error = (stock(ids).logits - grown(ids).logits).abs().max().item()
    assert error < 1e-5


def test_export_materialises_layer_map(tmp_path):
    base = tiny_model("llama")
    cls = FAMILIES["llama"]
    mapped = cls(cls.config_class.from_dict(base.config.to_dict() | {"num_hidden_layers": 6,
                                                                    "layer_map": [0, 1, 2, 3, 3, 2]})).eval()
    mapped.load_state_dict(base.state_dict())
    export_to_stock(saved(tmp_path, mapped), tmp_path / "stock")
    stock = StockLlama.from_pretrained(tmp_path / "stock").eval()
    ids = random_ids(base.config.vocab_size)
    with torch.no_grad():
        assert torch.equal(stock(ids).logits, mapped(ids).logits)
