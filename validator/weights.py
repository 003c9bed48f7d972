"""Setting weights on chain: at most once per interval, bounded retries, never twice for one round.

The intent (`{uid: weight}` at the round's metagraph) is committed to the state database *before* the write.
After a crash a round found in `sending` is reconciled first: if the chain already holds the intended row
(the write landed but its answer was lost) it is marked set without writing again; otherwise it is resent.

"Holds the intended row" is not enough on its own: when the moving average has settled, consecutive rounds
intend the same row, so the previous round's write would look like this round's. A write counts as landed
only if the chain's `last_update` for this uid is also newer than the block at which the previous round's
write was recorded (a later intent is only made once the interval since that block has passed, so a write
made for this round can only land after it).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

from node.chain import Chain, ChainError, ChainReadError, RateLimitedError
from node.chain.types import HotkeyWallet, Metagraph
from node.chain.weights import fractions, quantize_weights
from validator import faultpoints
from validator.state import StaleTransition, StateStore

log = logging.getLogger(__name__)

MATCH_TOLERANCE = 2.0 / 65535  # one u16 step on either side


def uid_weights(weights: Mapping[str, float], metagraph: Metagraph) -> dict[int, float]:
    """Hotkey weights as uid weights at the round's metagraph (hotkeys no longer registered get nothing)."""
    out: dict[int, float] = {}
    for hotkey, weight in sorted(weights.items()):
        uid = metagraph.uid_of(hotkey)
        if uid is not None and weight > 0 and math.isfinite(weight):
            out[uid] = out.get(uid, 0.0) + float(weight)
    return out


def chain_holds(chain: Chain, my_uid: int, intended: Mapping[int, float], *, written_after: int | None = None) -> bool:
    """True when the chain's row for `my_uid` is what `intended` quantises to (and, with `written_after`, was
    written at a later block than that: the metagraph's `last_update`)."""
    if written_after is not None:
        neuron = next((n for n in chain.metagraph().neurons if n.uid == my_uid), None)
        if neuron is None or neuron.last_update <= written_after:
            return False
    row = chain.weights().get(my_uid, {})
    want = fractions(quantize_weights(intended))
    if set(row) != set(want):
        return False
    return all(abs(row[u] - want[u]) <= MATCH_TOLERANCE for u in want)


class WeightSetter:
    """Sends, or skips, the weights of each scored round."""

    def __init__(self, chain: Chain, wallet: HotkeyWallet, state: StateStore, *, interval_blocks: int,
                 retries: int, version_key: int, dont_set: bool, sleep: Callable[[float], None] = time.sleep,
                 on_error: Callable[[str], None] | None = None) -> None:
        self.chain = chain
        self.wallet = wallet
        self.state = state
        self.interval_blocks = interval_blocks
        self.retries = max(1, retries)
        self.version_key = version_key
        self.dont_set = dont_set
        self.sleep = sleep
        self.on_error = on_error or (lambda kind: None)

    def due(self, current_block: int) -> tuple[bool, str]:
        last = self.state.last_weights_set()
        if last is None or last["chain_block"] is None:
            return True, ""
        since = current_block - int(last["chain_block"])
        if since < self.interval_blocks:
            return False, f"weights set {since} blocks ago (interval {self.interval_blocks})"
        return True, ""

    def handle(self, round_block: int, weights: Mapping[int, float], my_uid: int | None) -> str:
        """Decide and act for one scored round; returns the final state (set, skipped or failed)."""
        row = self.state.weight_set(round_block)
        if row is not None and row["state"] != "sending":
            return str(row["state"])
        if row is None:
            state, why = self._decide(weights, my_uid)
            self.state.begin_weights(round_block, weights, state="sending" if state == "send" else "skipped",
                                     message=why)
            if state != "send":
                log.info("round %d: weights not set (%s)", round_block, why)
                return "skipped"
        elif my_uid is not None and self._landed(round_block, my_uid, weights):
            log.info("round %d: weights found on chain after a restart; not resending", round_block)
            self.state.end_weights(round_block, "set", chain_block=self._block(), message="reconciled")
            return "set"
        return self._send(round_block, weights)

    def _decide(self, weights: Mapping[int, float], my_uid: int | None) -> tuple[str, str]:
        if self.dont_set:
            return "skip", "--dont-set-weights"
        if my_uid is None:
            return "skip", "this hotkey is not registered on the subnet"
        if not weights or sum(weights.values()) <= 0:
            return "skip", "no positive weights this round"
        try:
            due, why = self.due(self.chain.block())
        except ChainReadError as err:
            self.on_error("read")
            return "skip", f"chain unreadable: {err}"
        return ("send", "") if due else ("skip", why)

    def _landed(self, round_block: int, my_uid: int, weights: Mapping[int, float]) -> bool:
        """Did this round's write reach the chain? Its row, written after the previous round's recorded write."""
        previous = self.state.last_weights_set(before=round_block)
        after = None
        if previous is not None:  # block unknown (unreadable when reconciled): its round's anchor, a lower bound
            after = int(previous["chain_block"] if previous["chain_block"] is not None else previous["round_block"])
        try:
            return chain_holds(self.chain, my_uid, weights, written_after=after)
        except ChainReadError as err:
            self.on_error("read")
            log.warning("cannot read weights to reconcile (%s); resending", err)
            return False

    def _block(self) -> int | None:
        try:
            return self.chain.block()
        except ChainReadError:
            return None

    def _send(self, round_block: int, weights: Mapping[int, float]) -> str:
        last_error = ""
        for attempt in range(1, self.retries + 1):
            try:
                faultpoints.reached("weights")
                block = self.chain.set_weights(self.wallet, weights, version_key=self.version_key)
                faultpoints.reached("weight_write")
                self.state.end_weights(round_block, "set", chain_block=block, attempts=attempt)
                log.info("round %d: weights set at block %d for %d uids", round_block, block, len(weights))
                return "set"
            except RateLimitedError as err:
                last_error = str(err)
                self.on_error("rate_limited")
                break
            except ChainError as err:
                last_error = f"{type(err).__name__}: {err}"
                self.on_error("write")
                log.warning("round %d: set_weights attempt %d failed: %s", round_block, attempt, last_error)
                # the write may have landed with its answer lost: look before trying again
                my_uid = self._my_uid()
                if my_uid is not None and self._landed(round_block, my_uid, weights):
                    self.state.end_weights(round_block, "set", chain_block=self._block(), attempts=attempt,
                                           message="landed; answer lost")
                    return "set"
                if attempt < self.retries:
                    self.sleep(min(30.0, 2.0 * 2 ** (attempt - 1)))
        try:
            self.state.end_weights(round_block, "failed", message=last_error, attempts=self.retries)
        except StaleTransition:
            pass
        return "failed"

    def _my_uid(self) -> int | None:
        try:
            return self.chain.metagraph().uid_of(self.wallet.hotkey.ss58_address)
        except ChainReadError:
            return None
