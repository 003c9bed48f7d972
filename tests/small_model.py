"""Access to the small trained model and held-out text from the offline assets, for the claims that matter."""

from __future__ import annotations

import json
from functools import cache

import pytest
from tokenizers import Tokenizer

from node.assets.layout import SMALL_MODEL_LLAMA, SMALL_MODEL_PHI3, AssetLayout

SMALL_MODELS = {"llama": SMALL_MODEL_LLAMA, "phi3": SMALL_MODEL_PHI3}


def require_assets() -> AssetLayout:
    layout = AssetLayout.default()
    if not layout.manifest.is_file():
        pytest.skip("offline assets not built: run `python -m node.assets build`")
    return layout


@cache
def held_out_ids(family: str, count: int = 4, chars: int = 600) -> list[list[int]]:
    """Token ids of the first `count` corpus documents (cut at a space), with the model's own tokenizer."""
    layout = require_assets()
    tokenizer = Tokenizer.from_file(str(layout.model_dir(SMALL_MODELS[family]) / "tokenizer.json"))
    texts = []
    with layout.corpus.open() as handle:
        for line in handle:
            text = json.loads(line)["text"]
            if len(text) >= chars:
                texts.append(text[:chars].rsplit(" ", 1)[0])
            if len(texts) == count:
                break
    return [tokenizer.encode(text, add_special_tokens=False).ids for text in texts]
