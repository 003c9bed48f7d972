"""A validator database with a few rounds, written through `StateStore`'s own transitions (what the daemon does).

Three rounds 100, 110, 120 over two competitions. In `c1`: two evaluated models (`hk-a` certified as grown
from `hk-b`'s pointer, `hk-b` without lineage), one model rejected for `too_large` each round, and in the last
round one more that `failed` with `eval_timeout`. In `c2`: one evaluated model. Every round also refuses one
pointer at planning (`bad_pointer`). Weights are set in rounds 100 and 120 and skipped in 110.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from validator.state import LossRow, PlannedModel, Rejection, RoundResult, StateStore, Verdict

HOTKEYS = {name: f"5{name.upper().replace('-', '')}" + "x" * 40 for name in ("hk-a", "hk-b", "hk-c", "hk-d", "hk-e")}
UIDS = {"hk-a": 1, "hk-b": 2, "hk-c": 3, "hk-d": 4, "hk-e": 5}
ROUNDS = (100, 110, 120)
SAMPLES = 6


def pointer(name: str, competition: str = "c1") -> str:
    """A valid pointer (`miner/<name>` at a made-up commit, a made-up 32-byte hash)."""
    digest = base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()
    return f"miner:{name}:{hashlib.sha1(name.encode()).hexdigest()}:{digest}:{competition}"


def build_state(state_dir: Path) -> Path:
    """Write the rounds into `state_dir/state.sqlite` and return that path."""
    state = StateStore(state_dir / "state.sqlite")
    state.set_meta("hotkey", "5VALIDATOR" + "v" * 38)
    metagraph = {HOTKEYS[n]: uid for n, uid in UIDS.items()}
    for index, block in enumerate(ROUNDS):
        models = [PlannedModel(HOTKEYS["hk-b"], UIDS["hk-b"], "c1", pointer("hk-b"), 40, "pool"),
                  PlannedModel(HOTKEYS["hk-a"], UIDS["hk-a"], "c1", pointer("hk-a"), 50, "pool"),
                  PlannedModel(HOTKEYS["hk-c"], UIDS["hk-c"], "c1", pointer("hk-c"), 60, "new"),
                  PlannedModel(HOTKEYS["hk-e"], UIDS["hk-e"], "c2", pointer("hk-e", "c2"), 45, "pool")]
        if block == ROUNDS[-1]:
            models.append(PlannedModel(HOTKEYS["hk-d"], UIDS["hk-d"], "c1", pointer("hk-d"), 115, "new"))
        samples = {"c1": [f"s{block}-{i}" for i in range(SAMPLES)], "c2": [f"t{block}-{i}" for i in range(SAMPLES)]}
        state.plan_round(block, f"0x{block:064x}", 2**63 + block, "{}", "sha", metagraph, 9, models, samples,
                         [Rejection("5BADPOINTER" + "z" * 37, "not a pointer", "bad_pointer", "expected 5 fields")])
        losses = {"hk-a": 2.0 - 0.1 * index, "hk-b": 2.5, "hk-e": 3.0}
        for name in ("hk-b", "hk-a", "hk-e"):
            competition = "c2" if name == "hk-e" else "c1"
            hotkey = HOTKEYS[name]
            state.claim_model(block, hotkey)
            rows = [LossRow(s, (losses[name] + 0.05 * i) * 100, 100) for i, s in enumerate(samples[competition])]
            lineage = ("certified", pointer("hk-b")) if name == "hk-a" else ("none", None)
            verdict = Verdict(hotkey, pointer(name, competition), "ok", content_hash=f"H{name}{index}",
                              parameters={"hk-a": 2_000_000, "hk-b": 1_000_000, "hk-e": 500_000}[name],
                              lineage=lineage[0], lineage_parent=lineage[1])
            state.finish_model(block, hotkey, "evaluated", content_hash=f"H{name}{index}", verdict=verdict,
                               losses=("p", "float32", rows), eval_seconds=1.5 + index, evaluated_samples=SAMPLES,
                               cached_samples=0)
        state.claim_model(block, HOTKEYS["hk-c"])
        state.finish_model(block, HOTKEYS["hk-c"], "rejected", reason="too_large",
                           message="revision is 9000000000 bytes; limit 200000000",
                           verdict=Verdict(HOTKEYS["hk-c"], pointer("hk-c"), "refused", "too_large", "too big"))
        if block == ROUNDS[-1]:
            state.claim_model(block, HOTKEYS["hk-d"])
            state.finish_model(block, HOTKEYS["hk-d"], "failed", reason="eval_timeout", message="no result in 300 s")
        win_a = 0.6 + 0.1 * index
        results = [RoundResult("c1", HOTKEYS["hk-a"], UIDS["hk-a"], win_a, win_a, losses["hk-a"], SAMPLES),
                   RoundResult("c1", HOTKEYS["hk-b"], UIDS["hk-b"], 1 - win_a, 1 - win_a, losses["hk-b"], SAMPLES),
                   RoundResult("c2", HOTKEYS["hk-e"], UIDS["hk-e"], 1.0, 1.0, losses["hk-e"], SAMPLES)]
        ema = {HOTKEYS["hk-a"]: 0.3 + 0.1 * index, HOTKEYS["hk-b"]: 0.2, HOTKEYS["hk-e"]: 0.5 - 0.1 * index}
        state.score_round(block, results, ema, {"c1": [(HOTKEYS["hk-a"], pointer("hk-a"))]})
        weights = {UIDS["hk-a"]: ema[HOTKEYS["hk-a"]], UIDS["hk-b"]: 0.2, UIDS["hk-e"]: ema[HOTKEYS["hk-e"]]}
        if block == 110:
            state.begin_weights(block, weights, state="skipped", message="weights set 10 blocks ago (interval 15)")
        else:
            state.begin_weights(block, weights)
            state.end_weights(block, "set", chain_block=block + 3, attempts=1)
        state.finish_round(block)
    state.close()
    return state_dir / "state.sqlite"
