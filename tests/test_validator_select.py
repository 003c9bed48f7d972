"""Which models a round evaluates: pool first, the network's favourites, newcomers by age, then revisits."""

from __future__ import annotations

from node.chain.types import Metagraph, Neuron
from validator.select import Candidate, History, network_favourites, select


def cand(hotkey: str, block: int, pointer: str | None = None) -> Candidate:
    return Candidate(hotkey, None, pointer or f"p-{hotkey}", block, "c1")


def test_pool_then_favourites_then_new_by_age_then_revisits():
    cands = [cand("new-late", 50), cand("new-early", 5), cand("pooled", 30), cand("fav", 40), cand("old", 1)]
    history = History(pool=[("pooled", "p-pooled")], last_evaluated={("pooled", "p-pooled"): 90,
                                                                     ("old", "p-old"): 10, ("fav", "p-fav"): 95})
    chosen = select(cands, history, favourites=["fav"], limit=10, pend_size=1, round_block=100, revisit_every=50)
    assert [(c.hotkey, role) for c, role in chosen] == [
        ("pooled", "pool"), ("fav", "priority"), ("new-early", "new"), ("new-late", "new"), ("old", "revisit")]


def test_limit_pend_size_refusals_and_changed_pointers():
    cands = [cand("a", 1), cand("b", 2), cand("c", 3, "p-c2"), cand("d", 4)]
    history = History(pool=[("a", "p-a"), ("c", "p-c")], refused=[("b", "p-b")], discarded=[("d", "p-d")],
                      last_evaluated={("a", "p-a"): 90})
    chosen = select(cands, history, favourites=[], limit=2, pend_size=1, round_block=100, revisit_every=50)
    # c's pointer changed: it is a new model now, not a pool member; b and d are never picked again
    assert [(c.hotkey, c.pointer, role) for c, role in chosen] == [("a", "p-a", "pool"), ("c", "p-c2", "new")]


def test_a_fresh_validator_fills_its_first_round_beyond_pend_size():
    cands = [cand(f"m{i}", i) for i in range(6)]
    chosen = select(cands, History(), favourites=[], limit=5, pend_size=2, round_block=10, revisit_every=100)
    assert [c.hotkey for c, _ in chosen] == ["m0", "m1", "m2", "m3", "m4"]


def test_network_favourites_weighs_rows_by_stake():
    neurons = (Neuron(0, "v-big", 100.0, True, 0), Neuron(1, "v-small", 1.0, True, 0),
               Neuron(2, "x", 0, False, 0), Neuron(3, "y", 0, False, 0), Neuron(4, "z", 0, False, 0))
    metagraph = Metagraph(29, 10, neurons)
    weights = {0: {2: 0.1, 3: 0.9}, 1: {2: 1.0}, 9: {4: 1.0}}
    assert network_favourites(weights, metagraph) == ["y", "x"]
