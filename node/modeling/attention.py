"""Which attention kernel to ask transformers for.

Asking for "flash_attention_2" where flash-attn is missing raises ImportError and mutates the config
object passed in (measured with transformers 5.23), so the choice is made up front: flash-attn only with CUDA and the
package importable, else sdpa (which on CPU has its own fused causal kernel).
"""

from __future__ import annotations

import torch


def pick_attention(device: str | torch.device) -> str:
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        from transformers.utils import is_flash_attn_2_available

        if is_flash_attn_2_available():
            return "flash_attention_2"
    return "sdpa"
