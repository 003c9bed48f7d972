"""Generation checks for the patched causal LMs, standing in for transformers' `GenerationTesterMixin`.

transformers' own mixin (tests/generation/test_utils.py) is not in the sdist. These checks are ours,
chosen from what it verifies for decoder-only models: that `GenerationMixin` is a direct base, that
greedy decoding with a KV cache equals recomputing everything, that generation continues correctly
from returned past key values, that left padding does not change the result, that the cache has one
slot per executed layer, and that `inputs_embeds` prompts decode like `input_ids` ones.
"""

from __future__ import annotations

import torch
from transformers import DynamicCache, GenerationMixin

GREEDY = dict(do_sample=False, pad_token_id=0, eos_token_id=None)


class GenerationTesterMixin:
    all_generative_model_classes: tuple

    def _generative(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        for model_class in self.all_generative_model_classes:
            torch.manual_seed(0)
            # Ids 0..2 are pad/bos/eos: generate() would infer an attention mask from pad tokens.
            yield model_class(config).eval(), inputs["input_ids"][:3].clamp(min=3)

    def test_inherits_generation_mixin(self):
        """As transformers requires: `GenerationMixin` directly in `__bases__`, not inherited via PreTrainedModel."""
        self.assertTrue(self.all_generative_model_classes)
        for model_class in self.all_generative_model_classes:
            self.assertIn(GenerationMixin, model_class.__bases__)
            self.assertTrue(model_class.can_generate())

    def test_greedy_generate_equals_uncached_argmax(self):
        for model, ids in self._generative():
            with torch.no_grad():
                out = model.generate(ids, max_new_tokens=6, use_cache=True, **GREEDY)
                expected = ids
                for _ in range(6):
                    step = model(expected, use_cache=False).logits[:, -1].argmax(-1, keepdim=True)
                    expected = torch.cat([expected, step], dim=-1)
            self.assertTrue(torch.equal(out, expected))

    def test_generate_continue_from_past_key_values(self):
        for model, ids in self._generative():
            with torch.no_grad():
                first = model.generate(ids, max_new_tokens=3, return_dict_in_generate=True, **GREEDY)
                # Explicit mask: a generated token may equal the pad id, and generate() would then mask it.
                resumed = model.generate(first.sequences, attention_mask=torch.ones_like(first.sequences),
                                         past_key_values=first.past_key_values, max_new_tokens=3, **GREEDY)
                whole = model.generate(ids, max_new_tokens=6, **GREEDY)
            self.assertTrue(torch.equal(resumed, whole))

    def test_left_padding_compatibility(self):
        for model, ids in self._generative():
            pad = torch.zeros(ids.shape[0], 4, dtype=ids.dtype)
            padded = torch.cat([pad, ids], dim=-1)
            mask = torch.cat([torch.zeros_like(pad), torch.ones_like(ids)], dim=-1)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.no_grad():
                plain = model(ids).logits[:, -1]
                left = model(padded, attention_mask=mask, position_ids=positions).logits[:, -1]
                generated = model.generate(padded, attention_mask=mask, max_new_tokens=4, **GREEDY)[:, padded.shape[1]:]
                reference = model.generate(ids, max_new_tokens=4, **GREEDY)[:, ids.shape[1]:]
            torch.testing.assert_close(left, plain, rtol=1e-5, atol=1e-5)
            self.assertTrue(torch.equal(generated, reference))

    def test_past_key_values_format(self):
        for model, ids in self._generative():
            config = model.config
            with torch.no_grad():
                cache = model(ids, use_cache=True).past_key_values
            self.assertIsInstance(cache, DynamicCache)
            self.assertEqual(len(cache.layers), config.num_hidden_layers)  # executed positions, not stored layers
            head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
            for layer in cache.layers:
                self.assertEqual(tuple(layer.keys.shape), (ids.shape[0], config.num_key_value_heads, ids.shape[1],
                                                          head_dim))
                self.assertEqual(layer.keys.shape, layer.values.shape)

    def test_generate_from_inputs_embeds(self):
        for model, ids in self._generative():
            with torch.no_grad():
                embeds = model.get_input_embeddings()(ids)
                from_embeds = model.generate(inputs_embeds=embeds, max_new_tokens=4, **GREEDY)
                from_ids = model.generate(ids, max_new_tokens=4, **GREEDY)[:, ids.shape[1]:]
            self.assertTrue(torch.equal(from_embeds, from_ids))

    def test_sample_generate_is_seeded(self):
        for model, ids in self._generative():
            runs = []
            for _ in range(2):
                torch.manual_seed(7)
                with torch.no_grad():
                    runs.append(model.generate(ids, do_sample=True, top_k=5, max_new_tokens=5, pad_token_id=0))
            self.assertTrue(torch.equal(runs[0], runs[1]))
            self.assertEqual(runs[0].shape, (ids.shape[0], ids.shape[1] + 5))
