"""Valid inputs the gate must accept: a gate that refuses good models is as broken as one that takes bad ones."""

from __future__ import annotations

import json
import subprocess
import sys

from node.assets.layout import SMALL_MODEL_LLAMA, SMALL_MODEL_PHI3, AssetLayout
from node.evaluation import EvalSettings, evaluate_checkpoint
from node.gate import ModelLimits, check_model_dir, scan_finite
from node.hub.directory import DirectoryHub
from node.identity import parse_pointer
from node.modeling import load_model_for_eval

from .build import copy_model, edit_config, minimal_tokenizer_json
from .cases_files import gate
from .cases_inputs import HASH, tokenise_with_own
from .cases_weights import sharded
from .registry import case


def valid_case(name: str, family: str, **overrides) -> None:
    def build(tmp):
        path = copy_model(tmp / "m", family, **overrides)
        return lambda: load_model_for_eval(path)

    build.__name__ = name
    case("valid", None)(build)


valid_case("valid_llama_untied", "llama")
valid_case("valid_llama_tied", "llama", tie_word_embeddings=True)
valid_case("valid_phi3_untied", "phi3")
valid_case("valid_phi3_tied", "phi3", tie_word_embeddings=True)
valid_case("valid_llama_layer_map", "llama", num_hidden_layers=6, layer_map=[0, 1, 2, 3, 3, 2])
valid_case("valid_phi3_layer_map", "phi3", layer_map=[0, 1, 1, 0], num_hidden_layers=4)
valid_case("valid_llama_norm_divisor", "llama", norm_divisor=48)
valid_case("valid_phi3_norm_divisor", "phi3", norm_divisor=48.5)
valid_case("valid_llama_biases", "llama", attention_bias=True, mlp_bias=True)
valid_case("valid_llama3_rope", "llama", rope_parameters={"rope_type": "llama3", "factor": 8.0, "rope_theta": 5e5,
                                                          "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                                          "original_max_position_embeddings": 64})
valid_case("valid_phi3_partial_rotary", "phi3",
           rope_parameters={"rope_type": "default", "rope_theta": 1e4, "partial_rotary_factor": 0.5})


@case("valid", None)
def valid_sharded_with_index(tmp):
    path = sharded(tmp)
    return lambda: load_model_for_eval(path)


@case("valid", None)
def valid_scan_finite(tmp):
    path = copy_model(tmp / "m")
    return lambda: scan_finite(path)


@case("valid", None)
def valid_competition_limits(tmp):
    path = copy_model(tmp / "m")
    return gate(path, allowed_architectures=frozenset({"LlamaForCausalLM"}), max_parameters=200_000,
                max_sequence_len=256, max_total_bytes=10_000_000)


@case("valid", None, seconds=30.0)
def valid_sliced_evaluation(tmp):
    path = copy_model(tmp / "m")
    return lambda: evaluate_checkpoint(path, [[5, 9, 11, 40], [7, 8]], EvalSettings(memory_budget_bytes=200_000))


@case("valid", None)
def valid_legacy_rope_keys(tmp):
    path = edit_config(copy_model(tmp / "m"), drop=("rope_parameters",), rope_theta=10000.0, rope_scaling=None)
    return gate(path)


@case("valid", None)
def valid_model_tokenizer(tmp):
    folder = tmp / "m"
    folder.mkdir()
    (folder / "tokenizer.json").write_text(minimal_tokenizer_json())
    return tokenise_with_own(folder, vocab_size=96)


@case("valid", None)
def valid_pointer(tmp):
    return lambda: parse_pointer(f"alice:model:{'0' * 40}:{HASH}:c1")


@case("valid", None)
def valid_hub_round_trip(tmp):
    hub = DirectoryHub(tmp / "hub")
    revision = hub.upload("alice/model", copy_model(tmp / "m"))

    def attempt():
        hub.download("alice/model", revision, tmp / "dl", timeout=30)
        return check_model_dir(tmp / "dl")

    return attempt


def asset_case(name: str, model: str) -> None:
    def build(tmp):
        path = AssetLayout.default().model_dir(model)
        return lambda: check_model_dir(path, ModelLimits(max_sequence_len=2048))

    build.__name__ = name
    case("valid", None, needs_assets=True)(build)


asset_case("valid_smollm2_llama", SMALL_MODEL_LLAMA)
asset_case("valid_smollm2_phi3", SMALL_MODEL_PHI3)


@case("valid", None, slow=True, seconds=120.0)
def valid_grown_by_miner_cli(tmp):
    """`python -m miner grow` (its own process: node never imports the miner) wider, deeper, with a layer map."""
    parent = copy_model(tmp / "parent")
    child = tmp / "child"
    command = [sys.executable, "-m", "miner", "grow", str(parent), str(child), "--hidden-size", "96",
               "--intermediate-size", "192", "--stack", "2"]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    json.loads((child / "config.json").read_text())
    return lambda: load_model_for_eval(child)
