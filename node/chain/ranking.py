"""What the network as a whole thinks: hotkeys ranked by the stake-weighted sum of validators' weight rows.

Used by the validator (models other validators weight highly are evaluated first) and by the miner (the
current best model of a competition is the one the network weights most), so both read the chain alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from node.chain.types import Metagraph


def network_scores(weights: Mapping[int, Mapping[int, float]], metagraph: Metagraph) -> dict[str, float]:
    """`{hotkey: sum over validators of stake x weight}` for every hotkey with a positive score."""
    stake = {n.uid: max(n.stake, 0.0) for n in metagraph.neurons}
    by_uid = {n.uid: n.hotkey for n in metagraph.neurons}
    total: dict[str, float] = {}
    for validator_uid, row in weights.items():
        for uid, weight in row.items():
            hotkey = by_uid.get(uid)
            if hotkey is not None:
                total[hotkey] = total.get(hotkey, 0.0) + stake.get(validator_uid, 0.0) * weight
    return {h: v for h, v in total.items() if v > 0}


def network_favourites(weights: Mapping[int, Mapping[int, float]], metagraph: Metagraph) -> list[str]:
    """Hotkeys by `network_scores`, highest first (ties by hotkey)."""
    scores = network_scores(weights, metagraph)
    return sorted(scores, key=lambda h: (-scores[h], h))
