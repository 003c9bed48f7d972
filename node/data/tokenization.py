"""Per-competition tokenisation policy: text -> token ids, or a recorded reason why not.

Rules, in order (reference behaviour of the SN29 validator unless noted):
1. Cap: if `cap_sample_len` is set and the text is longer, cut at the last space before the
   cap (hard cut at the cap if there is no space); the space itself is dropped.
2. Encode with `add_special_tokens=False`, so a tokenizer's post-processor cannot slip in
   BOS/EOS; every special token below is added by these rules only.
3. Round trip: decoding the ids (special tokens kept, no clean-up) must give the text exactly,
   else reason `roundtrip`. Stricter than the reference, which used transformers' decode with
   whatever clean-up the tokenizer config asked for.
4. BOS (decision): prepended only when the policy sets `add_bos` *and* the tokenizer has a BOS
   token. Default off, matching the reference in practice (its competitions use GPT-style
   tokenizers without BOS). With BOS the loss engine's "first token not scored" skips BOS and
   every text token is scored; without it the first text token is unscored.
5. EOS appended only to uncapped samples (a capped text does not end there). A policy that
   appends EOS with a tokenizer that has none is a tokenizer error, raised at load time.
6. Length: more than `max_sequence_len` ids (BOS/EOS included) -> reason `too_long`.
7. Vocabulary: any id >= the model's embedding rows -> reason `out_of_vocab` for the sample
   and a `model_error` for the batch (the model cannot be scored with this tokenizer).
A failing sample is never an exception: it has `ids=None` and scores infinity.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from node.data.sample import Sample
from node.data.tokenizer_files import (
    LoadedTokenizer,
    TokenizerError,
    competition_tokenizer_path,
    is_native_failure,
    load_tokenizer,
)
from node.refusal import RefusalKind, Refused

DEFAULT_MAX_SEQUENCE_LEN = 4096
MAX_ROUNDTRIP_FAILURES = 3  # reference: more failures than this with a model's tokenizer disqualify it


class Reason(StrEnum):
    """Why a sample has no ids."""

    EMPTY = "empty"
    ENCODE_ERROR = "encode_error"
    ROUNDTRIP = "roundtrip"
    TOO_LONG = "too_long"
    OUT_OF_VOCAB = "out_of_vocab"


@dataclass(frozen=True)
class TokenizerPolicy:
    """How one competition turns samples into ids."""

    tokenizer: str | Path | None = None
    free_tokenizer: bool = False
    cap_sample_len: int | None = None
    max_sequence_len: int = DEFAULT_MAX_SEQUENCE_LEN
    add_bos: bool = False
    append_eos: bool = True
    bos_token: str | None = None
    eos_token: str | None = None
    max_roundtrip_failures: int = MAX_ROUNDTRIP_FAILURES

    def __post_init__(self) -> None:
        if self.cap_sample_len is not None and self.cap_sample_len <= 0:
            raise ValueError("cap_sample_len must be positive or None")
        if self.max_sequence_len <= 0:
            raise ValueError("max_sequence_len must be positive")

    @classmethod
    def from_competition(cls, cfg: Mapping[str, Any]) -> TokenizerPolicy:
        """Build from a competition entry (keys: tokenizer, free_tokenizer, cap_sample_len,
        max_sequence_len, and our extension add_bos); wrong types raise ValueError."""

        def opt_int(key: str, default: int | None) -> int | None:
            value = cfg.get(key, default)
            if value is None or (isinstance(value, int) and not isinstance(value, bool)):
                return value
            raise ValueError(f"competition key {key!r} must be an integer")

        for key in ("free_tokenizer", "add_bos"):
            if not isinstance(cfg.get(key, False), bool):
                raise ValueError(f"competition key {key!r} must be a boolean")
        tokenizer = cfg.get("tokenizer")
        if tokenizer is not None and not isinstance(tokenizer, str):
            raise ValueError("competition key 'tokenizer' must be a string")
        return cls(
            tokenizer=tokenizer,
            free_tokenizer=cfg.get("free_tokenizer", False),
            cap_sample_len=opt_int("cap_sample_len", None) or None,
            max_sequence_len=opt_int("max_sequence_len", DEFAULT_MAX_SEQUENCE_LEN) or DEFAULT_MAX_SEQUENCE_LEN,
            add_bos=cfg.get("add_bos", False),
        )

    def load(self, model_dir: Path | str | None = None) -> LoadedTokenizer:
        """The tokenizer to use: the model's own `tokenizer.json` when `free_tokenizer` and the
        model ships one, else the competition's. Raises TokenizerError."""
        own = Path(model_dir) / "tokenizer.json" if model_dir is not None else None
        if self.free_tokenizer and own is not None and own.is_file():
            loaded = load_tokenizer(own, origin="model", bos_token=self.bos_token, eos_token=self.eos_token)
        elif self.tokenizer is not None:
            path = competition_tokenizer_path(self.tokenizer)
            loaded = load_tokenizer(path, origin="competition", bos_token=self.bos_token, eos_token=self.eos_token)
        else:
            raise TokenizerError("competition names no tokenizer and the model ships none usable")
        if self.append_eos and loaded.eos_id is None:
            raise TokenizerError(f"{loaded.path}: no EOS token found, but the policy appends EOS")
        return loaded


@dataclass(frozen=True)
class TokenizedSample:
    """Ids for one sample, or `ids=None` with the reason (the sample then scores infinity)."""

    id: str
    ids: tuple[int, ...] | None
    reason: Reason | None = None
    detail: str = ""
    capped: bool = False


@dataclass(frozen=True)
class TokenizedBatch:
    """A round's samples for one (competition, tokenizer), plus a model-level verdict."""

    samples: list[TokenizedSample]
    tokenizer_sha256: str
    model_error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    model_error_kind: RefusalKind | None = None  # VOCAB or BAD_TOKENIZER when model_error is set

    def refusal(self) -> Refused | None:
        """The model-level verdict as the one refusal type (None when the model can be scored)."""
        if self.model_error is None:
            return None
        return Refused(self.model_error_kind or RefusalKind.BAD_TOKENIZER, self.model_error)

    def id_lists(self) -> list[tuple[int, ...]]:
        """Ids per sample in order, `()` for failed ones: the loss engine scores those as inf."""
        return [t.ids if t.ids is not None else () for t in self.samples]


def cap_text(text: str, cap: int | None) -> tuple[str, bool]:
    """(text cut at the last space before `cap`, whether it was cut)."""
    if cap is None or len(text) <= cap:
        return text, False
    at = text.rfind(" ", 0, cap)
    return text[: at if at > 0 else cap], True


def tokenize_sample(sample: Sample, tok: LoadedTokenizer, policy: TokenizerPolicy) -> TokenizedSample:
    """Apply rules 1-6 of the module docstring to one sample."""
    text, capped = cap_text(sample.text, policy.cap_sample_len)

    def fail(reason: Reason, detail: str) -> TokenizedSample:
        return TokenizedSample(sample.id, None, reason, detail, capped)

    if not text:
        return fail(Reason.EMPTY, "no text")
    try:
        ids = tok.tokenizer.encode(text, add_special_tokens=False).ids
        decoded = tok.tokenizer.decode(ids, skip_special_tokens=False)
    except BaseException as exc:  # plain Exceptions from Rust, or a panic (a BaseException, see is_native_failure)
        if not is_native_failure(exc):
            raise
        return fail(Reason.ENCODE_ERROR, f"{type(exc).__name__}: {str(exc)[:200]}")
    if decoded != text:
        pairs = enumerate(zip(decoded, text, strict=False))
        at = next((i for i, (a, b) in pairs if a != b), min(len(decoded), len(text)))
        return fail(Reason.ROUNDTRIP, f"decoded text differs at character {at}")
    if policy.add_bos and tok.bos_id is not None:
        ids = [tok.bos_id, *ids]
    if policy.append_eos and not capped and tok.eos_id is not None:
        ids = [*ids, tok.eos_id]
    if len(ids) > policy.max_sequence_len:
        return fail(Reason.TOO_LONG, f"{len(ids)} ids > max_sequence_len {policy.max_sequence_len}")
    return TokenizedSample(sample.id, tuple(ids), None, "", capped)


def check_vocab(item: TokenizedSample, vocab_size: int) -> TokenizedSample:
    """Rule 7 for one sample: ids at or beyond the model's embedding rows."""
    if item.ids is None or not item.ids or max(item.ids) < vocab_size:
        return item
    worst = max(item.ids)
    return TokenizedSample(item.id, None, Reason.OUT_OF_VOCAB, f"id {worst} >= vocab size {vocab_size}", item.capped)


def tokenize_samples(
    samples: Iterable[Sample], tok: LoadedTokenizer, policy: TokenizerPolicy, vocab_size: int | None = None
) -> TokenizedBatch:
    """Tokenise a round; `vocab_size` is the model's embedding rows (None: skip rule 7)."""
    out = [tokenize_sample(s, tok, policy) for s in samples]
    if vocab_size is not None:
        out = [check_vocab(t, vocab_size) for t in out]
    counts = Counter(t.reason.value if t.reason else "ok" for t in out)
    counts["capped"] = sum(t.capped for t in out)
    errors = []
    kind = None
    if tok.origin == "model" and (n_crash := counts.get(Reason.ENCODE_ERROR.value, 0)):
        example = next(t.detail for t in out if t.reason == Reason.ENCODE_ERROR)
        errors.append(f"model tokenizer failed to encode {n_crash} samples ({example[:120]})")
        kind = RefusalKind.BAD_TOKENIZER
    if n_oov := counts.get(Reason.OUT_OF_VOCAB.value, 0):
        errors.append(f"{n_oov} samples have token ids >= the model's vocab size {vocab_size}")
        kind = kind or RefusalKind.VOCAB
    n_roundtrip = counts.get(Reason.ROUNDTRIP.value, 0)
    if tok.origin == "model" and n_roundtrip > policy.max_roundtrip_failures:
        errors.append(f"model tokenizer fails the round trip on {n_roundtrip} samples")
        kind = kind or RefusalKind.BAD_TOKENIZER
    return TokenizedBatch(out, tok.sha256, "; ".join(errors) or None, dict(counts), kind)
