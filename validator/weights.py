"""Setting weights on chain: at most once per interval, bounded retries, never twice for one round.

The intent (`{uid: weight}` at the round's metagraph) is committed to the state database *before* the write.
After a crash a round found in `sending` is reconciled first: if the chain already holds the intended row
(the write landed but its answer was lost) it is marked set without writing again; otherwise it is resent.

"Landed" means the chain's row is the intended one *and* this hotkey's last weight update (`last_update`) is
at or after the block the intent was formed at (the round's block after a restart) *and* later than the block
at which the previous round's write was recorded: once the moving average settles, consecutive rounds intend
the same row, so the previous round's write would otherwise pass for this round's (and this round's write be
silently skipped, leaving `last_update` stale). When the chain cannot be read (after bounded retries) to tell
whether a write landed, the write is not repeated: one missed round is recovered by the next, a second write
for the same round cannot be taken back.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping

from node.chain import Chain, ChainError, ChainReadError, RateLimitedError
from node.chain.retry import RetryPolicy, call_with_retry
from node.chain.types import HotkeyWallet, Metagraph
from node.chain.weights import fractions, quantize_weights
from validator import faultpoints
from validator.state import StaleTransition, StateStore

log = logging.getLogger(__name__)

MATCH_TOLERANCE = 2.0 / 65535  # one u16 step on either side
RECONCILE_POLICY = RetryPolicy(attempts=3, base_delay=1.0, max_delay=4.0)  # reads that decide "did it land?"


def uid_weights(weights: Mapping[str, float], metagraph: Metagraph) -> dict[int, float]:
    """Hotkey weights as uid weights at the round's metagraph (hotkeys no longer registered get nothing)."""
    out: dict[int, float] = {}
    for hotkey, weight in sorted(weights.items()):
        uid = metagraph.uid_of(hotkey)
        if uid is not None and weight > 0 and math.isfinite(weight):
            out[uid] = out.get(uid, 0.0) + float(weight)
    return out


def chain_holds(chain: Chain, my_uid: int, intended: Mapping[int, float]) -> bool:
    """True when the chain's row for `my_uid` is what `intended` quantises to."""
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
        self.reconcile_policy = RECONCILE_POLICY

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
        since = round_block
        if row is None:
            state, why, head = self._decide(weights, my_uid)
            self.state.begin_weights(round_block, weights, state="sending" if state == "send" else "skipped",
                                     message=why)
            if state != "send":
                log.info("round %d: weights not set (%s)", round_block, why)
                return "skipped"
            since = max(round_block, head if head is not None else round_block)
        elif my_uid is not None:
            landed = self._landed(round_block, weights, since)
            if landed:
                log.info("round %d: weights found on chain after a restart; not resending", round_block)
                self.state.end_weights(round_block, "set", chain_block=self._block(), message="reconciled")
                return "set"
            if landed is None:
                log.warning("round %d: cannot tell whether the last life's write landed; not resending", round_block)
                self.state.end_weights(round_block, "failed", message="outcome unknown after a restart; not resent")
                return "failed"
        return self._send(round_block, weights, since)

    def _decide(self, weights: Mapping[int, float], my_uid: int | None) -> tuple[str, str, int | None]:
        if self.dont_set:
            return "skip", "--dont-set-weights", None
        if my_uid is None:
            return "skip", "this hotkey is not registered on the subnet", None
        if not weights or sum(weights.values()) <= 0:
            return "skip", "no positive weights this round", None
        try:
            head = self.chain.block()
        except ChainReadError as err:
            self.on_error("read")
            return "skip", f"chain unreadable: {err}", None
        due, why = self.due(head)
        return ("send", "", head) if due else ("skip", why, head)

    def _read(self, fn: Callable[[], object], what: str) -> object:
        return call_with_retry(fn, policy=self.reconcile_policy, is_transient=lambda e: isinstance(e, ChainReadError),
                               what=what, sleep=self.sleep)

    def _landed(self, round_block: int, weights: Mapping[int, float], since_block: int) -> bool | None:
        """Whether this round's write is on chain: this hotkey's row is `weights`, written at or after
        `since_block` and after the previous round's recorded write; None: the chain could not be read."""
        previous = self.state.last_weights_set(before=round_block)
        after = -1
        if previous is not None:  # block unknown (unreadable when reconciled): its round's anchor, a lower bound
            after = int(previous["chain_block"] if previous["chain_block"] is not None else previous["round_block"])
        try:
            me = self._read(self.chain.metagraph, "metagraph").neuron(self.wallet.hotkey.ss58_address)
            if me is None or me.last_update < since_block or me.last_update <= after:
                return False
            return bool(self._read(lambda: chain_holds(self.chain, me.uid, weights), "weights"))
        except ChainReadError as err:
            self.on_error("read")
            log.warning("cannot read the chain to tell whether the weights landed (%s)", err)
            return None

    def _block(self) -> int | None:
        try:
            return self.chain.block()
        except ChainReadError:
            return None

    def _send(self, round_block: int, weights: Mapping[int, float], since_block: int) -> str:
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
                landed = self._landed(round_block, weights, since_block)
                if landed:
                    self.state.end_weights(round_block, "set", chain_block=self._block(), attempts=attempt,
                                           message="landed; answer lost")
                    return "set"
                if landed is None:
                    self.state.end_weights(round_block, "failed", attempts=attempt,
                                           message=f"outcome unknown, not resent: {last_error}")
                    return "failed"
                if attempt < self.retries:
                    self.sleep(min(30.0, 2.0 * 2 ** (attempt - 1)))
        try:
            self.state.end_weights(round_block, "failed", message=last_error, attempts=self.retries)
        except StaleTransition:
            pass
        return "failed"
