"""A view of a KV cache that stores one executed position in its own slot.

Under a layer map the same stored layer runs at several positions, but its attention module always
calls `cache.update(k, v, self.layer_idx)` with its stored index. Handing each position a slot view
redirects that write to the position's own cache layer, so cached generation equals a materialised
copy of the model without duplicating any weights.
"""

from __future__ import annotations

from typing import Any

import torch


class CacheSlot:
    def __init__(self, cache: Any, position: int) -> None:
        self._cache = cache
        self._position = position

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, layer_idx: int, *args, **kwargs):
        return self._cache.update(key_states, value_states, self._position, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cache, name)
