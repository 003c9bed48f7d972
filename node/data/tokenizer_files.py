"""Loading a tokenizer safely: only `tokenizer.json`, size-limited, never code, never the network.

Why: with `free_tokenizer` the file comes from a miner, i.e. it is untrusted. `AutoTokenizer`
may import Python code from a repo or fetch remote files; `tokenizers.Tokenizer` parsing a JSON
document does neither. The file is read once with a byte limit and parsed from that buffer
(`Tokenizer.from_str`), so what is checked is what is parsed.

Special tokens: `tokenizer.json` does not say which token is BOS or EOS, so they are resolved
in this order: an explicit token string from the policy; `bos_token`/`eos_token` of a
`tokenizer_config.json` beside the file (also size-limited, JSON only); a short list of
well-known names present in the vocabulary.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tokenizers import Tokenizer

from node.refusal import RefusalKind, Refused

MAX_TOKENIZER_BYTES = 64 * 1024 * 1024
MAX_CONFIG_BYTES = 1024 * 1024
BOS_CANDIDATES = ("<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>")
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>")

# Hub names used in competition documents -> offline asset names (no Hub at run time).
TOKENIZER_ALIASES = {
    "Xenova/gpt-4": "cl100k",
    "cl100k_base": "cl100k",
    "openai-community/gpt2": "gpt2",
    "microsoft/Phi-3-mini-4k-instruct": "phi3",
}

Origin = Literal["competition", "model"]


class TokenizerError(Refused):
    """A tokenizer file is missing, too large, unparsable, or lacks a needed special token (BAD_TOKENIZER)."""

    def __init__(self, message: str) -> None:
        super().__init__(RefusalKind.BAD_TOKENIZER, message)

    def __reduce__(self):
        return (type(self), (self.message,))


def is_native_failure(exc: BaseException) -> bool:
    """True for what a native library raises when it fails, including a Rust panic: pyo3's
    `PanicException` derives from BaseException, so `except Exception` lets it abort the whole round.
    KeyboardInterrupt, SystemExit and GeneratorExit are never swallowed."""
    return not isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit)


@dataclass(frozen=True)
class LoadedTokenizer:
    """A parsed tokenizer plus what the policy needs to know about it."""

    tokenizer: Tokenizer
    path: Path
    sha256: str
    origin: Origin
    bos_id: int | None
    eos_id: int | None

    @property
    def vocab_size(self) -> int:
        """Number of ids the tokenizer can emit (added tokens included)."""
        return self.tokenizer.get_vocab_size(with_added_tokens=True)


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """Read a regular file, refusing anything over `max_bytes` (checked on the bytes read). The file is
    opened without following a symlink or blocking on a FIFO (`Refused(UNSAFE_FILE)`)."""
    from node.gate.files import open_regular

    if not path.exists() and not path.is_symlink():
        raise TokenizerError(f"not a file: {path}")
    fd, _ = open_regular(path)
    try:
        data = os.pread(fd, max_bytes + 1, 0)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise TokenizerError(f"{path} exceeds the {max_bytes}-byte limit")
    return data


def _config_token(path: Path, key: str) -> str | None:
    """`bos_token`/`eos_token` from tokenizer_config.json beside the tokenizer, if any."""
    cfg_path = path.with_name("tokenizer_config.json")
    if not cfg_path.is_file():
        return None
    from node.gate.bounded_json import parse_json

    try:
        cfg = parse_json(read_bounded(cfg_path, MAX_CONFIG_BYTES), cfg_path.name)
    except TokenizerError:
        return None
    except Refused as exc:
        if exc.kind != RefusalKind.BAD_JSON:
            raise  # a link or FIFO in the model folder is refused, not ignored
        return None
    value = cfg.get(key) if isinstance(cfg, dict) else None
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def resolve_special(
    tok: Tokenizer, explicit: str | None, configured: str | None, candidates: tuple[str, ...]
) -> int | None:
    """Id of the first of (explicit, configured, *candidates) that is in the vocabulary."""
    if explicit is not None:
        token_id = tok.token_to_id(explicit)
        if token_id is None:
            raise TokenizerError(f"special token {explicit!r} is not in the vocabulary")
        return token_id
    for name in (configured, *candidates):
        if name is not None and (token_id := tok.token_to_id(name)) is not None:
            return token_id
    return None


def load_tokenizer(
    path: Path | str,
    *,
    origin: Origin = "competition",
    bos_token: str | None = None,
    eos_token: str | None = None,
    max_bytes: int = MAX_TOKENIZER_BYTES,
) -> LoadedTokenizer:
    """Parse `tokenizer.json` at `path` (a file, or a folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tokenizer.json"
    if path.suffix != ".json":
        raise TokenizerError(f"only tokenizer.json files are loaded, not {path.name}")
    data = read_bounded(path, max_bytes)
    try:
        tok = Tokenizer.from_str(data.decode("utf-8"))
    except BaseException as exc:  # plain Exceptions from the Rust parser, or a panic (BaseException)
        if not is_native_failure(exc):
            raise
        raise TokenizerError(f"cannot parse {path}: {type(exc).__name__}: {str(exc)[:200]}") from None
    return LoadedTokenizer(
        tokenizer=tok,
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        origin=origin,
        bos_id=resolve_special(tok, bos_token, _config_token(path, "bos_token"), BOS_CANDIDATES),
        eos_id=resolve_special(tok, eos_token, _config_token(path, "eos_token"), EOS_CANDIDATES),
    )


def competition_tokenizer_path(name_or_path: str | Path) -> Path:
    """Map a competition's `tokenizer` value to a local tokenizer.json.

    Accepts an offline asset name (`cl100k`, `gpt2`, `phi3`), a Hub name with a known offline
    equivalent (see TOKENIZER_ALIASES), or a path to a file or folder.
    """
    from node.assets.layout import TOKENIZER_NAMES, AssetLayout

    text = str(name_or_path)
    name = TOKENIZER_ALIASES.get(text, text)
    if name in TOKENIZER_NAMES:
        return AssetLayout.default().tokenizer_dir(name) / "tokenizer.json"
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / "tokenizer.json"
    if not path.is_file():
        raise TokenizerError(
            f"unknown tokenizer {text!r}: not an offline asset name {TOKENIZER_NAMES} nor a local file"
        )
    return path
