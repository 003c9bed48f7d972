"""Patched task heads: built on the patched base model, so `norm_divisor` and `layer_map` hold, reload included."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
)
from transformers.models.llama import modeling_llama as stock_llama
from transformers.models.phi3 import modeling_phi3 as stock_phi3

import transformers_llama
import transformers_phi3
from tiny_models import TINY, random_ids

# (family, head name, patched class, stock class, Auto class); Phi3 ships no question-answering head.
HEADS = [
    ("llama", "seq", transformers_llama.LlamaForSequenceClassification, stock_llama.LlamaForSequenceClassification,
     AutoModelForSequenceClassification),
    ("llama", "tok", transformers_llama.LlamaForTokenClassification, stock_llama.LlamaForTokenClassification,
     AutoModelForTokenClassification),
    ("llama", "qa", transformers_llama.LlamaForQuestionAnswering, stock_llama.LlamaForQuestionAnswering,
     AutoModelForQuestionAnswering),
    ("phi3", "seq", transformers_phi3.Phi3ForSequenceClassification, stock_phi3.Phi3ForSequenceClassification,
     AutoModelForSequenceClassification),
    ("phi3", "tok", transformers_phi3.Phi3ForTokenClassification, stock_phi3.Phi3ForTokenClassification,
     AutoModelForTokenClassification),
]
IDS = [f"{family}-{name}" for family, name, *_ in HEADS]
VARIANTS = {
    "norm_divisor": dict(norm_divisor=48),
    "layer_map": dict(layer_map=[0, 1, 0, 1]),
}


def build(cls, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    model = cls(cls.config_class(**{**TINY, "num_labels": 3, **overrides}))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("norm.weight"):
                param.uniform_(0.5, 1.5)
    return model.eval()


def padded_ids(vocab: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded batch (pad id 0), so sequence classification must pool at different positions."""
    ids = random_ids(vocab, batch=3, length=11)
    ids[1, 7:] = 0
    ids[2, 4:] = 0
    return ids, (ids != 0).long()


def outputs(model, ids, mask) -> list[torch.Tensor]:
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
    return [out.start_logits, out.end_logits] if hasattr(out, "start_logits") else [out.logits]


def expected_from_trunk(model, name: str, ids, mask) -> list[torch.Tensor]:
    """The head computed by hand from the patched trunk's hidden states and the head's weights."""
    trunk = getattr(model, model.base_model_prefix)
    with torch.no_grad():
        hidden = trunk(input_ids=ids, attention_mask=mask).last_hidden_state
        if name == "qa":
            start, end = torch.nn.functional.linear(hidden, model.qa_outputs.weight, model.qa_outputs.bias).unbind(-1)
            return [start, end]
        logits = torch.nn.functional.linear(hidden, model.score.weight, model.score.bias)
    if name == "tok":
        return [logits]
    last = torch.tensor([int(torch.nonzero(row != 0).max()) for row in ids])
    return [logits[torch.arange(len(ids)), last]]


def assert_all_equal(got: list[torch.Tensor], want: list[torch.Tensor]) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b), (a - b).abs().max()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize(("family", "name", "cls", "stock_cls", "auto_cls"), HEADS, ids=IDS)
def test_head_honours_patch_and_reloads_through_auto(tmp_path, variant, family, name, cls, stock_cls, auto_cls):
    model = build(cls, **VARIANTS[variant])
    trunk = getattr(model, model.base_model_prefix)
    assert isinstance(trunk, transformers_llama.LlamaModel if family == "llama" else transformers_phi3.Phi3Model)
    assert len(trunk.layers) == model.config.num_stored_layers
    ids, mask = padded_ids(model.config.vocab_size)
    got = outputs(model, ids, mask)
    assert_all_equal(got, expected_from_trunk(model, name, ids, mask))

    # A stock head with the same weights computes something else: the patch is what the test sees.
    stock_config = stock_cls.config_class(**{k: v for k, v in model.config.to_dict().items()
                                             if k not in ("norm_divisor", "layer_map")})
    stock = stock_cls(stock_config).eval()
    stock.load_state_dict(model.state_dict(), strict=False)
    assert any((a - b).abs().max() > 1e-4 for a, b in zip(outputs(stock, ids, mask), got, strict=True))

    model.save_pretrained(tmp_path)
    reloaded = auto_cls.from_pretrained(tmp_path).eval()
    assert type(reloaded) is cls
    assert reloaded.config.norm_divisor == model.config.norm_divisor
    assert reloaded.config.layer_map == model.config.layer_map
    assert_all_equal(outputs(reloaded, ids, mask), got)


@pytest.mark.parametrize("norm_divisor", [None, 64])
@pytest.mark.parametrize(("family", "name", "cls", "stock_cls", "auto_cls"), HEADS, ids=IDS)
def test_head_equals_stock_when_unpatched(norm_divisor, family, name, cls, stock_cls, auto_cls):
    model = build(cls, norm_divisor=norm_divisor)
    stock_config = stock_cls.config_class(**{**TINY, "num_labels": 3})
    stock = stock_cls(stock_config).eval()
    stock.load_state_dict(model.state_dict())
    ids, mask = padded_ids(model.config.vocab_size)
    assert_all_equal(outputs(model, ids, mask), outputs(stock, ids, mask))


@pytest.mark.parametrize(("family", "name", "cls", "stock_cls", "auto_cls"), HEADS, ids=IDS)
def test_head_loss_and_backward(family, name, cls, stock_cls, auto_cls):
    model = build(cls, norm_divisor=48, layer_map=[0, 1, 0, 1]).train()
    ids, mask = padded_ids(model.config.vocab_size)
    if name == "qa":
        labels = dict(start_positions=torch.tensor([1, 2, 0]), end_positions=torch.tensor([3, 5, 2]))
    elif name == "tok":
        labels = dict(labels=torch.randint(0, 3, ids.shape, generator=torch.Generator().manual_seed(0)))
    else:
        labels = dict(labels=torch.tensor([0, 2, 1]))
    loss = model(input_ids=ids, attention_mask=mask, **labels).loss
    assert torch.isfinite(loss) and loss > 0
    loss.backward()
    trunk = getattr(model, model.base_model_prefix)
    assert trunk.norm.weight.grad is not None and trunk.layers[0].input_layernorm.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("family", "name", "cls", "stock_cls", "auto_cls"), HEADS, ids=IDS)
def test_head_checkpoint_exports_to_stock(tmp_path, family, name, cls, stock_cls, auto_cls):
    """Stock export rescales norms and materialises the layer map in head checkpoints too (Llama QA: `transformer.`)."""
    from transformers_growable.stock_export import export_to_stock

    model = build(cls, norm_divisor=48, layer_map=[0, 1, 0, 1])
    model.save_pretrained(tmp_path / "patched")
    export_to_stock(tmp_path / "patched", tmp_path / "stock")
    stock = stock_cls.from_pretrained(tmp_path / "stock").eval()
    assert len(getattr(stock, stock.base_model_prefix).layers) == 4
    ids, mask = padded_ids(model.config.vocab_size)
    for a, b in zip(outputs(stock, ids, mask), outputs(model, ids, mask), strict=True):
        assert (a - b).abs().max() < 1e-5
