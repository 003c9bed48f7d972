"""A small embedded network for end-to-end tests: chain file, directory hub, wallets, miners' tiny models.

Models use the GPT-2 tokenizer from the offline assets (shipped in each model folder, the competition has
`free_tokenizer`), so they can be scored on real held-out text. Three kinds:
- `random_model`: tiny random Llama, about ln(vocab) nats per token;
- `unigram_model`: the same shape, built so that its logits are the log unigram distribution of the training
  part of the corpus (every layer writes zero into the residual stream): clearly better on held-out text;
- `grow_wider`: a loss-preserving widening of any of them (the "grown but untrained copy").
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import torch
from tokenizers import Tokenizer

import transformers_llama
from node.assets.layout import AssetLayout
from node.chain.local import LocalChain
from node.chain.wallets import ensure_hotkey
from node.data import CorpusSource
from node.hub.directory import DirectoryHub
from node.identity import ModelPointer, digests_from_folder, model_hash

ROOT = Path(__file__).resolve().parents[1]
VOCAB = 50257
COMPETITION = "tiny"


def tokenizer_dir() -> Path:
    return AssetLayout.default().tokenizer_dir("gpt2")


def tiny_config(**overrides):
    base = dict(vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                num_key_value_heads=1, head_dim=16, max_position_embeddings=1024, tie_word_embeddings=False,
                bos_token_id=50256, eos_token_id=50256, pad_token_id=None)
    return transformers_llama.LlamaConfig(**{**base, **overrides})


def _save(model, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(tokenizer_dir() / name, folder / name)
    return folder


def random_model(folder: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    return _save(transformers_llama.LlamaForCausalLM(tiny_config()).eval(), folder)


@cache
def unigram_log_probs() -> torch.Tensor:
    """Add-one smoothed log unigram frequencies of the corpus's training part under the GPT-2 tokenizer."""
    tok = Tokenizer.from_file(str(tokenizer_dir() / "tokenizer.json"))
    counts: Counter[int] = Counter()
    for sample in CorpusSource(part="train").all_samples():
        counts.update(tok.encode(sample.text, add_special_tokens=False).ids)
    freq = torch.ones(VOCAB, dtype=torch.float64)
    for token, n in counts.items():
        freq[token] += n
    return (freq / freq.sum()).log().float()


def unigram_model(folder: Path, seed: int = 0) -> Path:
    """Logits = log unigram probabilities at every position: every residual writer is zero, the final
    norm maps the constant embedding to e0 * sqrt(hidden), and lm_head's first column holds the log probs."""
    torch.manual_seed(seed)
    config = tiny_config()
    model = transformers_llama.LlamaForCausalLM(config).eval()
    hidden = config.hidden_size
    with torch.no_grad():
        model.model.embed_tokens.weight.zero_()
        model.model.embed_tokens.weight[:, 0] = 1.0
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        model.model.norm.weight.fill_(1.0)
        model.lm_head.weight.zero_()
        model.lm_head.weight[:, 0] = unigram_log_probs() / math.sqrt(hidden)
    return _save(model, folder)


def grow_wider(src: Path, dst: Path) -> Path:
    """Hidden 32 -> 64 with `norm_divisor` frozen (loss-preserving), through the miner's growth toolkit."""
    subprocess.run([sys.executable, "-m", "miner", "grow", str(src), str(dst), "--hidden-size", "64"],
                   check=True, cwd=ROOT, capture_output=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        if not (dst / name).exists():
            shutil.copyfile(tokenizer_dir() / name, dst / name)
    return dst


def competitions_document(**overrides) -> dict:
    entry = {"reward": 1.0, "model_types": ["LlamaForCausalLM", "SlicedLlamaForCausalLM"], "model_size": 200_000_000,
             "parameters": 20_000_000, "dataset": "corpus", "tokenizer": None, "free_tokenizer": True,
             "cap_sample_len": 500, "max_sequence_len": 1024, "pool_size": 7, "pend_size": 3, **overrides}
    return {COMPETITION: entry}


class Network:
    """One embedded network under `root` with a clock moved by hand (`block_time=0`)."""

    def __init__(self, root: Path, *, interval: int = 10) -> None:
        self.root = root
        self.chain_path = root / "chain.sqlite"
        self.chain = LocalChain.create(self.chain_path, block_time=0, commit_rate_limit=1, weights_rate_limit=1)
        self.wallets = root / "wallets"
        self.hub = DirectoryHub(root / "hub")
        self.interval = interval
        self.competitions = root / "competitions.json"
        self.competitions.write_text(json.dumps(competitions_document()))

    def miner(self, name: str):
        wallet = ensure_hotkey("miners", name, self.wallets)
        self.chain.register(wallet.hotkey.ss58_address)
        return wallet

    def validator(self, name: str, stake: float = 1000.0):
        wallet = ensure_hotkey("validators", name, self.wallets)
        self.chain.register(wallet.hotkey.ss58_address)
        self.chain.set_stake(wallet.hotkey.ss58_address, stake)
        self.chain.set_permit(wallet.hotkey.ss58_address)
        return wallet

    def publish(self, wallet, folder: Path, repo: str, competition: str = COMPETITION) -> str:
        """Upload `folder` and commit its hotkey-bound pointer (for `competition`); returns the pointer string."""
        revision = self.hub.upload(repo, folder)
        namespace, name = repo.split("/")
        digests = digests_from_folder(folder)
        pointer = ModelPointer(namespace, name, revision, model_hash(digests, wallet.hotkey.ss58_address),
                               competition).format()
        self.chain.commit(wallet, pointer)
        return pointer

    def publish_random_miners(self, names: tuple[str, ...]) -> None:
        """Each name a registered miner with its own random tiny model (seeds 1, 2, ...) as `NAME/tiny`,
        one block apart."""
        for seed, name in enumerate(names, 1):
            self.publish(self.miner(name), random_model(self.root / name, seed=seed), f"{name}/tiny")
            self.chain.advance(1)

    def validator_flags(self, name: str, state_dir: Path) -> dict[str, str]:
        """The settings of validator `name` on this network, as `{flag: value}`."""
        return {
            "subtensor.network": f"embedded:{self.chain_path}", "hub": f"directory:{self.root / 'hub'}",
            "competitions": str(self.competitions), "wallet.name": "validators", "wallet.hotkey": name,
            "wallet.path": str(self.wallets), "state.dir": str(state_dir),
            "round.interval_blocks": str(self.interval), "round.samples": "12", "weights.interval_blocks": "1",
            "poll_interval_s": "0.2", "eval.timeout_s": "300",
        }

    def validator_command(self, name: str, state_dir: Path, *extra: str) -> list[str]:
        flags = [part for key, value in self.validator_flags(name, state_dir).items() for part in (f"--{key}", value)]
        return [sys.executable, "-m", "validator", "run", *flags, *extra]


def validator_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "patches"), str(ROOT / "tests"),
                                         env.get("PYTHONPATH", "")])
    return env
