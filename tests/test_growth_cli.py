"""`python -m miner grow` / `verify-growth` end to end on a tiny model (in-process, through main())."""

from __future__ import annotations

import json

import torch

from miner.__main__ import main
from tiny_models import tiny_model


def test_cli_grow_then_verify(tmp_path, capsys):
    tiny_model("phi3", dtype=torch.bfloat16).save_pretrained(tmp_path / "parent")
    plan = tmp_path / "plan.yaml"
    plan.write_text("seed: 3\noperators:\n  - {op: intermediate, size: 256}\n")
    rc = main(["grow", str(tmp_path / "parent"), str(tmp_path / "child"), "--plan", str(plan), "--hidden-size", "128",
               "--num-kv-heads", "8", "--layers", "0-3,2-3", "--max-shard-size", "300KB"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "loss-preserving: yes" in out
    config = json.loads((tmp_path / "child" / "config.json").read_text())
    assert (config["hidden_size"], config["intermediate_size"], config["num_key_value_heads"]) == (128, 256, 8)
    assert config["num_hidden_layers"] == 6 and config["dtype"] == "bfloat16"
    assert main(["verify-growth", str(tmp_path / "parent"), str(tmp_path / "child"), "--samples", "3"]) == 0
    assert "max |dloss| = 0" in capsys.readouterr().out


def test_cli_verify_fails_on_non_preserving_growth(tmp_path, capsys):
    tiny_model("llama").save_pretrained(tmp_path / "parent")
    assert main(["grow", str(tmp_path / "parent"), str(tmp_path / "child"), "--stack", "2", "--copy-writers"]) == 0
    assert "loss-preserving: NO" in capsys.readouterr().out
    assert main(["verify-growth", str(tmp_path / "parent"), str(tmp_path / "child")]) == 1
    assert "NOT loss-preserving" in capsys.readouterr().out


def test_cli_layer_map_and_errors(tmp_path, capsys):
    tiny_model("llama").save_pretrained(tmp_path / "parent")
    assert main(["grow", str(tmp_path / "parent"), str(tmp_path / "child"), "--interpolate", "2", "--layer-map"]) == 0
    assert json.loads((tmp_path / "child" / "config.json").read_text())["layer_map"] == [0, 0, 1, 1, 2, 2, 3, 3]
    assert main(["grow", str(tmp_path / "parent"), str(tmp_path / "bad"), "--hidden-size", "32"]) == 2
    assert "shrink" in capsys.readouterr().err
