"""A stock transformers config handed to a patched class: accepted with the added keys at their defaults."""

from __future__ import annotations

import pytest
import torch
import transformers
from transformers.models.llama import modeling_llama as stock_llama
from transformers.models.phi3 import modeling_phi3 as stock_phi3

import transformers_llama
import transformers_phi3
from tiny_models import TINY, random_ids

FAMILY = {
    "llama": (transformers.LlamaConfig, transformers_llama, stock_llama, "Llama"),
    "phi3": (transformers.Phi3Config, transformers_phi3, stock_phi3, "Phi3"),
}
KINDS = ["Model", "ForCausalLM", "ForSequenceClassification", "ForTokenClassification"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("family", sorted(FAMILY))
def test_stock_config_is_accepted_and_matches_stock(family, kind):
    stock_config_cls, patched, stock, prefix = FAMILY[family]
    config = stock_config_cls(**TINY, num_labels=3)
    config._attn_implementation = "eager"
    torch.manual_seed(0)
    model = getattr(patched, prefix + kind)(config).eval()
    assert isinstance(model.config, patched.LlamaConfig if family == "llama" else patched.Phi3Config)
    assert model.config.norm_divisor is None and model.config.layer_map is None
    assert model.config._attn_implementation == "eager"
    reference = getattr(stock, prefix + kind)(config).eval()
    reference.load_state_dict(model.state_dict())
    ids = random_ids(TINY["vocab_size"])
    with torch.no_grad():
        got, want = model(input_ids=ids)[0], reference(input_ids=ids)[0]
    assert torch.equal(got, want)


def test_stock_config_carrying_the_added_keys_keeps_them():
    """Stock `from_pretrained` keeps unknown keys as attributes; converting must honour (and validate) them."""
    config = transformers.LlamaConfig(**TINY)
    config.norm_divisor = 48
    model = transformers_llama.LlamaForCausalLM(config)
    assert model.config.norm_divisor == 48
    assert model.model.norm.norm_divisor == 48.0
    config.norm_divisor = -1
    with pytest.raises(Exception, match="norm_divisor"):
        transformers_llama.LlamaModel(config)


def test_config_of_another_model_type_is_refused():
    with pytest.raises(TypeError, match="'llama' config, got Phi3Config with model_type 'phi3'"):
        transformers_llama.LlamaForCausalLM(transformers.Phi3Config(**TINY))
