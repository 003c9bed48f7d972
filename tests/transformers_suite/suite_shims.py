"""Fillers for two modules the transformers sdist's test files import but the sdist does not ship."""

from __future__ import annotations


class ExportTesterMixin:
    """`torch.export` checks (tests/exporters/ upstream) are not shipped; none are run. Exporting is not
    something the node does with these models, so nothing is lost for this project."""


# Common `PreTrainedConfig` keyword arguments, each set to a non-default value; ConfigTester checks
# that a config class passes every one of them through (`check_config_arguments_init`).
config_common_kwargs = {
    "output_hidden_states": True,
    "output_attentions": True,
    "return_dict": False,
    "dtype": "float16",
    "chunk_size_feed_forward": 5,
    "architectures": ["LlamaForCausalLM"],
    "id2label": {0: "negative", 1: "positive"},
    "label2id": {"negative": 0, "positive": 1},
    "problem_type": "regression",
    "tie_word_embeddings": True,
    "pad_token_id": 3,
    "bos_token_id": 4,
    "eos_token_id": 5,
}
