"""The on-disk layout of the offline assets: the contract between the builder and its users."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from node.paths import cache_dir

TOKENIZER_NAMES = ("phi3", "cl100k", "gpt2")
SMALL_MODEL_LLAMA = "smollm2-135m-llama"
SMALL_MODEL_PHI3 = "smollm2-135m-phi3"


@dataclass(frozen=True)
class AssetLayout:
    """Paths of every built asset under one root (default: `<cache>/assets`)."""

    root: Path

    @classmethod
    def default(cls) -> AssetLayout:
        return cls(cache_dir() / "assets")

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.json"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def corpus(self) -> Path:
        """JSON lines, one document each: {"id", "source", "title", "text"}; ids are stable.

        Ids are `enwiki-<8-digit page id>` and `lee-<3-digit line number>`; lines are sorted by id
        and the file is byte-identical on every machine (see `node.assets.corpus`).
        """
        return self.root / "corpus" / "documents.jsonl"

    def tokenizer_dir(self, name: str) -> Path:
        """A folder holding `tokenizer.json` (and `tokenizer_config.json`)."""
        return self.root / "tokenizers" / name

    def model_dir(self, name: str) -> Path:
        """A `save_pretrained` folder: config.json, safetensors, tokenizer files."""
        return self.root / "models" / name

    @property
    def tiktoken_cache(self) -> Path:
        """A ready `TIKTOKEN_CACHE_DIR`: `tiktoken.get_encoding("cl100k_base" | "r50k_base")` works offline."""
        return self.root / "tokenizers" / "tiktoken-cache"

    @property
    def staging(self) -> Path:
        """Scratch space of a running build (same filesystem as the outputs, so renames are atomic)."""
        return self.root / ".staging"
