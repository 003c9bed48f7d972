"""virtual-layers: per-position adapters on tied layers (ours) against peft's, and the experiment end to end."""

from __future__ import annotations

import csv

import pytest
import torch

from miner.__main__ import main
from miner.experiments.adapter_arms import attach, saved_activation_bytes, stored_parameters
from miner.experiments.position_adapters import IA3_TARGETS, LORA_TARGETS, attach_position_adapters
from miner.experiments.settings import load_config
from miner.experiments.virtual_layers import VirtualLayersConfig
from node.evaluation import sample_losses
from small_model import require_assets
from tiny_models import FAMILIES, random_ids, tiny_model

LAYER_MAP = [0, 1, 0, 1]  # stored layer 0 runs at positions 0 and 2, layer 1 at 1 and 3
TARGETS = {  # Phi3 fuses q/k/v and gate/up
    ("llama", "lora"): None, ("llama", "ia3"): None,
    ("phi3", "lora"): ("qkv_proj", "o_proj", "gate_up_proj", "down_proj"), ("phi3", "ia3"): ("qkv_proj", "down_proj"),
}


def virtual_and_copied(family: str = "llama"):
    """A 2-layer model grown to 4 positions both ways (same function): tied by layer_map, and real copies."""
    base = tiny_model(family, num_hidden_layers=2)
    cls = FAMILIES[family]
    config = base.config.to_dict() | {"num_hidden_layers": len(LAYER_MAP)}
    virtual = cls(cls.config_class.from_dict(config | {"layer_map": LAYER_MAP})).eval()
    virtual.load_state_dict(base.state_dict())
    copied = cls(cls.config_class.from_dict(config)).eval()
    state = {k: v for k, v in base.state_dict().items() if not k.startswith("model.layers.")}
    for name, tensor in base.state_dict().items():
        if name.startswith("model.layers."):
            stored, rest = int(name.split(".")[2]), name.split(".", 3)[3]
            for position, source in enumerate(LAYER_MAP):
                if source == stored:
                    state[f"model.layers.{position}.{rest}"] = tensor.clone()
    copied.load_state_dict(state)
    return virtual, copied


def sgd_steps(model, params, ids, steps: int = 1, lr: float = 0.5) -> None:
    optimizer = torch.optim.SGD(params, lr=lr)
    model.train()
    for _ in range(steps):
        logits = model(input_ids=ids[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), ids[:, 1:].flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


def test_peft_lora_on_a_layer_map_model_is_shared_across_positions():
    virtual, copied = virtual_and_copied()
    attach(virtual, "peft-lora", _spec())
    attach(copied, "peft-lora", _spec())
    tied = {n.split(".")[2] for n, p in virtual.named_parameters() if p.requires_grad}
    real = {n.split(".")[2] for n, p in copied.named_parameters() if p.requires_grad}
    assert tied == {"0", "1"} and real == {"0", "1", "2", "3"}  # one adapter per stored layer vs per position
    # training moves the single adapter of stored layer 0, so positions 0 and 2 get the same update: the tied
    # model then equals a copied model whose positions 0 and 2 hold the same (shared) adapter values
    ids = random_ids(virtual.config.vocab_size)
    sgd_steps(virtual, [p for p in virtual.parameters() if p.requires_grad], ids)
    trained = dict(virtual.named_parameters())
    with torch.no_grad():
        for name, parameter in copied.named_parameters():
            if "lora_" in name:
                position = int(name.split(".")[2])
                parameter.copy_(trained[name.replace(f"layers.{position}.", f"layers.{LAYER_MAP[position]}.")])
        assert torch.allclose(virtual(ids).logits, copied(ids).logits, atol=1e-5)


@pytest.mark.parametrize("kind", ["lora", "ia3"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_position_adapters_start_at_exactly_the_base_model(kind, family):
    virtual, _ = virtual_and_copied(family)
    ids = random_ids(virtual.config.vocab_size)
    samples = [row.tolist() for row in ids]
    with torch.no_grad():
        logits, losses = virtual(ids).logits, sample_losses(virtual, samples)
        shared = {n: p.data_ptr() for n, p in virtual.named_parameters()}
        adapters = attach_position_adapters(virtual, kind, targets=TARGETS[family, kind], rank=4, seed=3)
        expected = TARGETS[family, kind] or (LORA_TARGETS if kind == "lora" else IA3_TARGETS)
        assert len(adapters.modules) == 2 * len(expected)  # every target of both stored layers
        assert torch.equal(virtual(ids).logits, logits)
        assert sample_losses(virtual, samples) == losses  # the validator's routine, threads and all
    # the shared weights are wrapped, not copied: the same storage under the wrapper's `base`
    wrapped = {n.replace(".base.", "."): p.data_ptr() for n, p in virtual.named_parameters()
               if not any(k in n for k in ("lora_", "ia3_"))}
    assert wrapped == shared


def _spec():
    from miner.experiments.adapter_arms import AdapterSpec

    return AdapterSpec(rank=4, alpha=8.0, seed=3)


@pytest.mark.parametrize("kind", ["lora", "ia3"])
def test_position_adapters_differ_per_position_after_a_step(kind):
    virtual, _ = virtual_and_copied()
    adapters = attach_position_adapters(virtual, kind, rank=4, seed=3)
    frozen = {n: p.detach().clone() for n, p in virtual.named_parameters() if not p.requires_grad}
    sgd_steps(virtual, list(adapters.parameters()), random_ids(virtual.config.vocab_size))
    projection = "self_attn.v_proj"
    first, second = adapters.adapter_at(0, projection, 0), adapters.adapter_at(0, projection, 2)
    start = torch.zeros_like(first["lora_B"]) if kind == "lora" else torch.ones_like(first["ia3_l"])
    key = "lora_B" if kind == "lora" else "ia3_l"
    assert not torch.equal(first[key], start) and not torch.equal(second[key], start)
    assert not torch.allclose(first[key], second[key])  # each position learned its own adapter
    assert all(torch.equal(p, frozen[n]) for n, p in virtual.named_parameters() if n in frozen)


def test_virtual_with_position_lora_trains_exactly_like_copied_with_peft_lora():
    virtual, copied = virtual_and_copied()
    ours, theirs = attach(virtual, "pos-lora", _spec()), attach(copied, "peft-lora", _spec())
    assert sum(p.numel() for p in ours) == sum(p.numel() for p in theirs)
    ids = random_ids(virtual.config.vocab_size)
    sgd_steps(virtual, ours, ids, steps=3)
    sgd_steps(copied, theirs, ids, steps=3)
    with torch.no_grad():
        assert torch.allclose(virtual(ids).logits, copied(ids).logits, atol=1e-5)
    assert stored_parameters(virtual) < stored_parameters(copied)
    batch = random_ids(virtual.config.vocab_size, length=9)
    assert saved_activation_bytes(virtual, batch, ours) == saved_activation_bytes(copied, batch, theirs)


def test_position_cursor_follows_layer_range_slices():
    virtual, _ = virtual_and_copied()
    adapters = attach_position_adapters(virtual, "lora", rank=4, seed=3)
    with torch.no_grad():
        for parameter in adapters.parameters():
            parameter.normal_(0, 0.2)  # every position's adapter different and active
        ids = random_ids(virtual.config.vocab_size)
        whole = virtual(ids).logits
        hidden = virtual(ids, layer_range=(0, 3)).last_hidden_state
        assert torch.allclose(virtual(inputs_embeds=hidden, layer_range=(3, 4)).logits, whole, atol=1e-6)


def test_position_adapters_refuse_what_they_cannot_follow():
    virtual, _ = virtual_and_copied()
    with pytest.raises(ValueError, match="adapter kind"):
        attach_position_adapters(virtual, "dora")
    virtual.activation_checkpointing_enable()
    with pytest.raises(ValueError, match="checkpointing"):
        attach_position_adapters(virtual, "lora")
    plain, _ = virtual_and_copied()
    adapters = attach_position_adapters(plain, "lora", rank=2)
    with pytest.raises(RuntimeError, match="outside the model's layer loop"):
        next(iter(adapters.modules.values()))(torch.zeros(1, plain.config.hidden_size))


def test_config_rejects_bad_arms_and_unknown_keys():
    with pytest.raises(ValueError, match="FORM\\+ADAPTER"):
        VirtualLayersConfig(arms=("virtual+dora",))
    with pytest.raises(ValueError, match="unknown VirtualLayersConfig"):
        load_config(VirtualLayersConfig, None, ["rnak=4"])


MICRO = ["base_steps=4", "steps=3", "eval_every=3", "hidden=32", "intermediate=64", "vocab=128", "heldout_samples=3",
         "heldout_max_tokens=32", "seq_len=16", "batch_size=2", "rank=2", "warmup_steps=1"]


@pytest.mark.assets
def test_micro_run_through_the_cli_writes_csv_and_png(tmp_path, capsys):
    require_assets()
    out = tmp_path / "run"
    sets = [a for s in MICRO for a in ("--set", s)]
    assert main(["experiment", "virtual-layers", "--out", str(out), *sets]) == 0
    headline = capsys.readouterr().out.strip().splitlines()[-1]
    assert "lora_virtual_vs_copied_max_diff=0" in headline
    rows = list(csv.DictReader((out / "results.csv").open()))
    arms = VirtualLayersConfig().arms
    assert [r["arm"] for r in rows] == [a for a in arms for _ in range(2)]  # evaluations at steps 0 and 3
    by_arm = {r["arm"]: r for r in rows}
    trainable = {arm: int(row["trainable_params"]) for arm, row in by_arm.items()}
    assert trainable["virtual+pos-lora"] == trainable["copied+peft-lora"] == 2 * trainable["virtual+peft-lora"]
    assert int(by_arm["virtual+pos-lora"]["stored_layers"]) == 2 < int(by_arm["copied+peft-lora"]["stored_layers"])
    assert len({r["loss_start"] for r in rows}) == 1  # every arm starts from the same grown function
    for name in ("curves.png", "footprint.png", "summary.md", "config.yaml"):
        assert (out / name).stat().st_size > 0
    assert not any(p.name.startswith("checkpoints-") for p in out.iterdir())  # scratch checkpoints removed
