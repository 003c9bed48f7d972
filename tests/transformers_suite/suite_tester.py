"""Our model tester and test base for the patched classes, run under transformers' `ModelTesterMixin`.

The tester plays the part of transformers' `CausalLMModelTester` (not in the sdist): it makes the tiny
config and inputs every common check draws on. The base class adds the head checks of transformers'
`CausalLMModelTest` (shapes and losses of the sequence, token and question-answering heads), written
here from what those check. `extra` config keys let the same suite run on grown configurations
(`norm_divisor` != hidden size, a `layer_map`), where the patch actually changes the computation.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import suite_sdist
import torch


def _scratch() -> Path:
    """The runner's folder (`SN29_TRANSFORMERS_SUITE_DIR`), else a temp folder removed at exit."""
    if given := os.environ.get("SN29_TRANSFORMERS_SUITE_DIR"):
        return Path(given)
    scratch = tempfile.mkdtemp(prefix="tfsuite-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    return Path(scratch)


suite_sdist.install(_scratch())

from suite_generation import GenerationTesterMixin  # noqa: E402
from tfsuite.test_configuration_common import ConfigTester  # noqa: E402
from tfsuite.test_modeling_common import ModelTesterMixin, ids_tensor  # noqa: E402


class PatchedModelTester:
    """Sizes as in transformers' causal-LM tester: small enough for CPU, every dimension distinct."""

    batch_size = 13
    seq_length = 7
    is_training = True
    vocab_size = 99
    hidden_size = 32
    num_hidden_layers = 2
    num_attention_heads = 2
    num_key_value_heads = 2
    intermediate_size = 37
    max_position_embeddings = 512
    type_sequence_label_size = 2
    num_labels = 3
    num_choices = 4

    def __init__(self, parent, config_class: type, extra: dict | None = None) -> None:
        self.parent = parent
        self.config_class = config_class
        self.extra = dict(extra or {})
        self.num_hidden_layers = len(self.extra["layer_map"]) if "layer_map" in self.extra else self.num_hidden_layers

    def get_config(self):
        return self.config_class(
            vocab_size=self.vocab_size,
            hidden_size=self.hidden_size,
            num_hidden_layers=self.num_hidden_layers,
            num_attention_heads=self.num_attention_heads,
            num_key_value_heads=self.num_key_value_heads,
            intermediate_size=self.intermediate_size,
            hidden_act="gelu",
            max_position_embeddings=self.max_position_embeddings,
            initializer_range=0.02,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            **self.extra,
        )

    def prepare_config_and_inputs_for_common(self):
        input_ids = ids_tensor([self.batch_size, self.seq_length], self.vocab_size)
        attention_mask = torch.tril(torch.ones_like(input_ids))
        return self.get_config(), {"input_ids": input_ids, "attention_mask": attention_mask}


class PatchedCausalLMTest(ModelTesterMixin, GenerationTesterMixin):
    config_class: type
    base_model_class: type
    sequence_classification_class: type
    token_classification_class: type
    question_answering_class: type | None = None
    extra: dict = {}
    # transformers runs `test_can_init_all_missing_weights` only for models whose config file's copyright
    # line says 2023 or later (Llama: 2022, skipped upstream); ours have no such line. Run it everywhere.
    test_can_init_all_missing_weights_before_2023 = True

    def setUp(self):
        self.model_tester = PatchedModelTester(self, self.config_class, self.extra)
        self.config_tester = ConfigTester(self, config_class=self.config_class)

    def test_config(self):
        self.config_tester.run_common_tests()

    def test_model(self):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        model = self.base_model_class(config).eval()
        with torch.no_grad():
            out = model(**inputs).last_hidden_state
        tester = self.model_tester
        self.assertEqual(out.shape, (tester.batch_size, tester.seq_length, tester.hidden_size))
        stored = getattr(config, "num_stored_layers", config.num_hidden_layers)  # stock baseline has no layer map
        self.assertEqual(len(model.layers), stored)

    def _head(self, model_class, **config_changes):
        config, inputs = self.model_tester.prepare_config_and_inputs_for_common()
        config.num_labels = 3
        for key, value in config_changes.items():
            setattr(config, key, value)
        model = model_class(config).eval()
        mask = inputs["input_ids"].ne(1)
        return model, inputs["input_ids"], mask

    def _check_sequence_classification(self, problem_type, labels):
        model, ids, mask = self._head(self.sequence_classification_class, problem_type=problem_type)
        out = model(ids, attention_mask=mask, labels=labels)
        self.assertEqual(out.logits.shape, (self.model_tester.batch_size, 3))
        self.assertTrue(torch.isfinite(out.loss))

    def test_sequence_classification_model(self):
        labels = ids_tensor([self.model_tester.batch_size], self.model_tester.type_sequence_label_size)
        self._check_sequence_classification(None, labels)

    def test_sequence_classification_model_for_single_label(self):
        labels = ids_tensor([self.model_tester.batch_size], self.model_tester.type_sequence_label_size)
        self._check_sequence_classification("single_label_classification", labels)

    def test_sequence_classification_model_for_multi_label(self):
        labels = ids_tensor([self.model_tester.batch_size, 3], self.model_tester.type_sequence_label_size).float()
        self._check_sequence_classification("multi_label_classification", labels)

    def test_token_classification_model(self):
        model, ids, mask = self._head(self.token_classification_class)
        labels = ids_tensor([self.model_tester.batch_size, self.model_tester.seq_length], 3)
        out = model(ids, attention_mask=mask, labels=labels)
        self.assertEqual(out.logits.shape, (self.model_tester.batch_size, self.model_tester.seq_length, 3))
        self.assertTrue(torch.isfinite(out.loss))

    def test_question_answering_model(self):
        if self.question_answering_class is None:
            self.skipTest("transformers ships no question-answering head for this family")
        model, ids, mask = self._head(self.question_answering_class)
        positions = ids_tensor([self.model_tester.batch_size], self.model_tester.seq_length)
        out = model(ids, attention_mask=mask, start_positions=positions, end_positions=positions)
        self.assertEqual(out.start_logits.shape, (self.model_tester.batch_size, self.model_tester.seq_length))
        self.assertEqual(out.end_logits.shape, out.start_logits.shape)
        self.assertTrue(torch.isfinite(out.loss))
