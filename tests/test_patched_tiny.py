"""The patched classes on tiny random models: stock equivalence, exact width growth, slices, layer maps."""

from __future__ import annotations

import pytest
import torch
from transformers.models.llama.modeling_llama import LlamaForCausalLM as StockLlama
from transformers.models.phi3.modeling_phi3 import Phi3ForCausalLM as StockPhi3

from tiny_models import FAMILIES, random_ids, tiny_model, zero_pad_hidden

STOCK = {"llama": StockLlama, "phi3": StockPhi3}
FAMILY_NAMES = sorted(FAMILIES)
DTYPES = [torch.float32, torch.bfloat16]


def logits(model, ids, **kwargs):
    with torch.no_grad():
        return model(input_ids=ids, **kwargs).logits.float()


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_divisor", [None, 64])
def test_equals_stock_when_divisor_is_hidden_size(family, dtype, norm_divisor):
    model = tiny_model(family, dtype=dtype, norm_divisor=norm_divisor)
    stock_config = STOCK[family].config_class(**{k: v for k, v in model.config.to_dict().items()
                                                 if k not in ("norm_divisor", "layer_map")})
    stock = STOCK[family](stock_config).to(dtype).eval()
    stock.load_state_dict(model.state_dict())
    ids = random_ids(model.config.vocab_size)
    assert torch.equal(logits(model, ids), logits(stock, ids))


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_padded_width_growth_is_exact_only_with_norm_divisor(family, dtype):
    parent = tiny_model(family, dtype=dtype)
    ids = random_ids(parent.config.vocab_size)
    grown = zero_pad_hidden(parent, 96)
    assert grown.config.norm_divisor == 64 and grown.config.num_attention_heads == 6
    assert torch.equal(logits(grown, ids), logits(parent, ids))
    plain = zero_pad_hidden(parent, 96, keep_norm_divisor=False)
    assert (logits(plain, ids) - logits(parent, ids)).abs().max() > 1e-2


@pytest.mark.parametrize("family", FAMILY_NAMES)
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("cuts", [(0, 4), (0, 1, 4), (0, 2, 3, 4), (0, 1, 2, 3, 4)])
def test_sliced_loading_equals_full_model(tmp_path, family, tied, cuts):
    model = tiny_model(family, tie_word_embeddings=tied, norm_divisor=48)
    model.save_pretrained(tmp_path)
    ids = random_ids(model.config.vocab_size)
    hidden = None
    for start, stop in zip(cuts[:-1], cuts[1:], strict=False):
        part = FAMILIES[family].from_pretrained_slice(tmp_path, (start, stop))
        meta = [n for n, p in part.named_parameters() if p.device.type == "meta"]
        assert all(f"layers.{i}." not in n for n in meta for i in range(start, stop))
        with torch.no_grad():
            if start == 0:
                out = part(input_ids=ids, layer_range=(start, stop))
            else:
                out = part(inputs_embeds=hidden, layer_range=(start, stop))
        hidden = out.logits if stop == 4 else out.last_hidden_state
        if stop < 4:
            assert part.lm_head.weight.device.type == "meta" and not hasattr(out, "logits")
    assert torch.equal(hidden, logits(model, ids))


def test_slice_range_is_validated():
    model = tiny_model("llama")
    ids = random_ids(model.config.vocab_size)
    for bad in [(0, 5), (2, 2), (-1, 2)]:
        with pytest.raises(ValueError, match="layer_range"):
            model(input_ids=ids, layer_range=bad)
    with pytest.raises(ValueError, match="hidden states"):
        model(input_ids=ids, layer_range=(1, 4))
