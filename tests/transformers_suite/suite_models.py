"""transformers' common model tests (ModelTesterMixin, ConfigTester from its 5.23.0 sdist) on the patched classes.

Run through `scripts/transformers_suite` or `tests/test_transformers_suite.py`. Per family three test
classes: `Patched*` (the patched classes, configured as transformers tests its own), `Grown*` (the
patched classes with `norm_divisor` != hidden size and a `layer_map`, so the common checks also cover
the code paths the patch adds) and `Stock*` (stock transformers classes under the same checks: the
baseline, so a test skipped for the patch is known to be skipped for transformers itself too).
"""

from __future__ import annotations

import unittest

from suite_tester import PatchedCausalLMTest
from transformers.models.llama import modeling_llama as stock_llama
from transformers.models.phi3 import modeling_phi3 as stock_phi3

import transformers_llama as llama
import transformers_phi3 as phi3

# Two executed positions running one stored layer: transformers' `test_num_layers_is_small` allows at most 2.
GROWN = {"norm_divisor": 24, "layer_map": [0, 0]}


class LlamaFamily:
    config_class = llama.LlamaConfig
    base_model_class = llama.LlamaModel
    sequence_classification_class = llama.LlamaForSequenceClassification
    token_classification_class = llama.LlamaForTokenClassification
    question_answering_class = llama.LlamaForQuestionAnswering
    all_model_classes = (
        llama.LlamaModel,
        llama.LlamaForCausalLM,
        llama.LlamaForSequenceClassification,
        llama.LlamaForQuestionAnswering,
        llama.LlamaForTokenClassification,
    )


class Phi3Family:
    config_class = phi3.Phi3Config
    base_model_class = phi3.Phi3Model
    sequence_classification_class = phi3.Phi3ForSequenceClassification
    token_classification_class = phi3.Phi3ForTokenClassification
    all_model_classes = (
        phi3.Phi3Model,
        phi3.Phi3ForCausalLM,
        phi3.Phi3ForSequenceClassification,
        phi3.Phi3ForTokenClassification,
    )


class PatchedLlamaModelTest(LlamaFamily, PatchedCausalLMTest, unittest.TestCase):
    pass


class PatchedPhi3ModelTest(Phi3Family, PatchedCausalLMTest, unittest.TestCase):
    pass


class GrownLlamaModelTest(LlamaFamily, PatchedCausalLMTest, unittest.TestCase):
    extra = GROWN


class GrownPhi3ModelTest(Phi3Family, PatchedCausalLMTest, unittest.TestCase):
    extra = GROWN


class StockLlamaModelTest(PatchedCausalLMTest, unittest.TestCase):
    config_class = stock_llama.LlamaConfig
    base_model_class = stock_llama.LlamaModel
    sequence_classification_class = stock_llama.LlamaForSequenceClassification
    token_classification_class = stock_llama.LlamaForTokenClassification
    question_answering_class = stock_llama.LlamaForQuestionAnswering
    all_model_classes = (
        stock_llama.LlamaModel,
        stock_llama.LlamaForCausalLM,
        stock_llama.LlamaForSequenceClassification,
        stock_llama.LlamaForQuestionAnswering,
        stock_llama.LlamaForTokenClassification,
    )


class StockPhi3ModelTest(PatchedCausalLMTest, unittest.TestCase):
    config_class = stock_phi3.Phi3Config
    base_model_class = stock_phi3.Phi3Model
    sequence_classification_class = stock_phi3.Phi3ForSequenceClassification
    token_classification_class = stock_phi3.Phi3ForTokenClassification
    all_model_classes = (
        stock_phi3.Phi3Model,
        stock_phi3.Phi3ForCausalLM,
        stock_phi3.Phi3ForSequenceClassification,
        stock_phi3.Phi3ForTokenClassification,
    )
