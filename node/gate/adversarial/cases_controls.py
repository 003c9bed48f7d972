"""Control cases: inputs the harness must flag as failures, so a broken judge cannot report all-green.

Each one breaks one rule on purpose: an attempt that hangs, one that allocates past its memory bound,
one that raises a generic exception, one that accepts a hostile input, and one that refuses a valid one.
"""

from __future__ import annotations

import os
import time

import torch

from node.refusal import RefusalKind as K
from node.refusal import Refused

from ..limits import MIB
from .registry import case


@case("control", K.OVER_MEMORY, memory_bytes=64 * MIB)
def control_over_memory(tmp):
    def attempt():
        block = torch.ones(256 * MIB // 4)  # 256 MiB, touched
        raise Refused(K.OVER_MEMORY, f"held {block.numel()} floats")

    return attempt


@case("control", K.BAD_CONFIG)
def control_generic(tmp):
    return lambda: [][1]


@case("control", K.BAD_CONFIG)
def control_wrongly_accepted(tmp):
    return lambda: None


@case("control", None)
def control_wrongly_refused(tmp):
    def attempt():
        raise Refused(K.BAD_CONFIG, "refusing a valid input")

    return attempt


@case("control", K.BAD_CONFIG, seconds=0.05)
def control_slow(tmp):
    def attempt():
        time.sleep(0.5)
        raise Refused(K.BAD_CONFIG, "right reason, too late")

    return attempt


@case("control", K.UNSAFE_FILE, seconds=1.0)
def control_hang(tmp):
    os.mkfifo(tmp / "fifo")
    return lambda: open(tmp / "fifo", "rb")  # blocks: no writer ever comes (last: it ends its worker)
