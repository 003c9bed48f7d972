"""The current best model of a competition: the one the network's validators weight most.

"Best" is read from the chain the way the validator ranks models to evaluate first
(`node.chain.ranking.network_favourites`: hotkeys by the stake-weighted sum of every validator's weight
row), restricted to hotkeys whose commitment is a valid pointer into this competition. The miner then
downloads and verifies that model with the validator's own code (`node.verify.fetch_and_verify`: size,
hotkey-bound hash, download, gate). A favourite whose model a validator would refuse is skipped (it cannot
be the network's real best for long); a hub outage is an error, because comparing against the runner-up
instead would be comparing against the wrong model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from node.chain import Chain
from node.chain.ranking import network_favourites, network_scores
from node.competitions import Competition
from node.gate import ModelLimits
from node.hub import ModelHub
from node.hub.store import ModelStore
from node.identity import ModelPointer, read_pointer
from node.refusal import Refused
from node.verify import VerifiedModel, fetch_and_verify


@dataclass(frozen=True)
class BestCandidate:
    """A hotkey the network weights, with its committed pointer in the competition."""

    hotkey: str
    pointer: ModelPointer
    commit_block: int
    score: float  # the stake-weighted weight it gets


def ranked_candidates(chain: Chain, competition_id: str) -> list[BestCandidate]:
    """Hotkeys with a valid pointer into `competition_id`, the network's favourite first."""
    metagraph = chain.metagraph()
    weights = chain.weights()
    scores = network_scores(weights, metagraph)
    commitments = chain.commitments()
    out = []
    for hotkey in network_favourites(weights, metagraph):
        commitment = commitments.get(hotkey)
        if commitment is None:
            continue
        parsed = read_pointer(commitment.data)
        if parsed.ok and parsed.pointer.competition == competition_id:
            out.append(BestCandidate(hotkey, parsed.pointer, commitment.block, scores[hotkey]))
    return out


def fetch_best(
    chain: Chain,
    hub: ModelHub,
    store: ModelStore,
    competition: Competition,
    limits: ModelLimits,
    *,
    timeout_s: float,
    say: Callable[[str], None] = print,
) -> tuple[BestCandidate, VerifiedModel] | None:
    """The best verifiable model (the caller releases `verified.lease`), or None on an empty competition."""
    for candidate in ranked_candidates(chain, competition.id):
        try:
            verified = fetch_and_verify(hub, store, candidate.pointer, candidate.hotkey, competition, limits,
                                        timeout_s=timeout_s)
        except Refused as refusal:
            if refusal.kind.transient:
                raise
            say(f"skipping {candidate.hotkey}'s model ({candidate.pointer.repo_id}): a validator would refuse it: "
                f"{refusal}")
            continue
        return candidate, verified
    return None
