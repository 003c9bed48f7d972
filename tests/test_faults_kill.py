"""kill -9 of the validator daemon at random instants, many times over many rounds: nothing lost, nothing counted
twice, no round's weights written twice, and the end state of a run never killed.

Two validators watch one embedded network (`fault_daemons.kill_network`): `ref` runs undisturbed the whole time;
`victim` is started and killed again and again (`kill -9` of its process group: the daemon and its evaluation
worker). The clock moves to the next round only when both have finished the current one, so both score the same
rounds on the same samples.

Where the kills land. Most kills use the daemon's fault points (`validator.faultpoints`): before each life the test
reads the victim's database, picks a phase still ahead in the round (the least hit so far, ties broken by a seeded
RNG), the n-th arrival at it (n random over the models still pending) and, for download and evaluation, a random
delay so the kill lands inside the copy or the forward pass. The first kill of each later round is either a `plan`
kill (a fresh life resumes an already planned round, so only the life that finished the previous round can die
planning the next; it is armed so while `plan` is among the least hit phases) or at a random time: the life that
finished the previous round lives on and is killed up to about a round's length after the clock moves, wherever
that lands (classified afterwards by what the database shows). Lives = kills + 1: each start costs the torch import
twice (daemon and worker), the bulk of the suite's time. Once only phases hit more often than others remain in a
round, its remaining kills move to the next round. Timing kills from log lines alone could not land in the windows
that matter (the chain write landed but unrecorded; losses in hand but uncommitted): they are microseconds wide and
no line marks their inside.

After every kill: the database passes `state_invariants.violations` (integrity, every evaluated model has its
losses, no half-scored round, counters equal to the rows they count) and the chain's weight history holds at
most one write per round for the victim. At the end every round is done once, results and moving averages equal
the reference's exactly, the chain holds one write per round for each validator and the same final row.

Scales: `short` (the default run) 5 kills over 2 rounds; `full` (slow, the fault report) 50 over 6 rounds, every
phase hit at least once.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter

import pytest

from fault_daemons import (
    INTERVAL,
    Life,
    ema_by_round,
    kill_network,
    read_db,
    results_by_round,
    round_state,
    state_path,
    uid_of,
    wait_round,
)
from fault_record import SCALES, record
from small_model import require_assets
from state_invariants import violations, writes_per_round
from validator import faultpoints

pytestmark = pytest.mark.assets

KILLS = {"short": 5, "full": 50}
ROUNDS = {"short": 2, "full": 6}
PER_MODEL = ("download", "evaluate", "commit")
DELAY = {"download": 0.05, "evaluate": 0.5}  # upper bound of the random delay after the point (seconds)


def reachable(net, block: int) -> tuple[list[str], int]:
    """The phases a fresh life of the victim will still reach in round `block`, and its unfinished models."""
    state = round_state(net, "victim", block)
    if state is None:
        return list(faultpoints.PHASES), 0
    with read_db(state_path(net, "victim")) as conn:
        open_models = conn.execute("SELECT COUNT(*) FROM round_models WHERE round_block = ? AND state IN "
                                   "('pending', 'running')", (block,)).fetchone()[0]
        weights = conn.execute("SELECT state FROM weight_sets WHERE round_block = ?", (block,)).fetchone()
    if state == "evaluating":
        later = ["score", "weights", "weight_write", "done"]
        return ([*PER_MODEL, *later] if open_models else later), open_models
    if state == "scored":
        written = writes_per_round(net.chain.weight_history(), uid_of(net, "victim"), INTERVAL).get(block, 0)
        if weights is None or (weights[0] == "sending" and not written):
            return ["weights", "weight_write", "done"], 0
        return ["done"], 0
    return [], 0


def timed_phase(after: str | None) -> str:
    """Where a kill at a random time landed, from the round's state after it."""
    return {None: "plan", "evaluating": "models", "scored": "weights"}.get(after, "idle" if after == "done" else "?")


def check_after_kill(net, block: int) -> list[str]:
    with read_db(state_path(net, "victim")) as conn:
        bad = violations(conn)
    writes = writes_per_round(net.chain.weight_history(), uid_of(net, "victim"), INTERVAL)
    return bad + [f"round {b}: {n} weight writes" for b, n in writes.items() if n > 1]


def point_kill(net, block: int, rng: random.Random, landed: Counter[str], log, *, spread: bool) -> str | None:
    """One life armed with a fault point still ahead in round `block`, run until it kills itself. None when no
    phase is ahead or, with `spread`, when every phase ahead was hit more often than some phase left behind
    (the kill is better spent in the next round: otherwise a round's last window, `done`, takes the rest)."""
    phases, open_models = reachable(net, block)
    least = min(landed[p] for p in faultpoints.PHASES)
    if not phases or (spread and all(landed[p] > least for p in phases)):
        return None
    low = min(landed[p] for p in phases)
    phase = rng.choice([p for p in phases if landed[p] == low])
    nth = rng.randint(1, max(1, open_models)) if phase in PER_MODEL else 1
    delay = round(rng.uniform(0, DELAY[phase]), 3) if phase in DELAY else 0.0
    spec = faultpoints.KillAt(phase, nth, delay).format()
    life = Life(net, "victim", log, env={faultpoints.ENV: spec})
    wait_round(net, "victim", block, life=life, or_exit=True)
    reached = life.said(f"fault point {spec} reached")
    if life.alive():
        life.kill()
    code = life.wait()
    assert reached and code == -9, f"{spec}: exit {code}, point reached: {reached}\n{life.tail()}"
    return phase


@pytest.mark.parametrize("scale", SCALES)
def test_kill_9_at_random_instants_loses_nothing_and_counts_nothing_twice(scale, tmp_path):
    require_assets()
    started = time.monotonic()
    rng = random.Random(20261202)
    net = kill_network(tmp_path, ("ref", "victim"))
    logs = tmp_path / "logs"
    reference = Life(net, "ref", logs / "ref.log")
    kills, rounds = KILLS[scale], ROUNDS[scale]
    blocks = [INTERVAL * (i + 1) for i in range(rounds)]
    quota = [kills // rounds + (i < kills % rounds) for i in range(rounds)]
    landed: Counter[str] = Counter()
    problems: list[str] = []
    lives, carried, window, carry, armed_for_plan = 0, None, 1.0, 0, False
    try:
        for i, block in enumerate(blocks):
            if i:
                net.chain.advance(INTERVAL)
            budget, carry = quota[i] + carry, 0
            for k in range(budget):
                if k == 0 and carried is not None and armed_for_plan:  # it kills itself planning this round
                    assert carried.wait(300) == -9 and carried.said("fault point plan:"), carried.tail()
                    label = "plan"
                elif k == 0 and carried is not None:  # the previous round's last life, killed at a random time
                    time.sleep(rng.uniform(0, window))
                    carried.kill()
                    label = "random time: " + timed_phase(round_state(net, "victim", block))
                else:
                    lives += 1
                    label = point_kill(net, block, rng, landed, logs / f"victim-{lives}.log", spread=i + 1 < rounds)
                    if label is None:
                        lives -= 1
                        carry = budget - k  # spent in the next round
                        break
                carried = None
                landed[label] += 1
                problems += [f"after kill {sum(landed.values())} ({label}): {p}" for p in check_after_kill(net, block)]
            if carried is None:  # a life that finishes the round and lives on into the next
                lives += 1
                # a fresh life resumes a planned round, so only the one that finishes a round can die planning the
                # next: armed so while `plan` is among the least hit, else killed at a random time
                armed_for_plan = i + 1 < rounds and landed["plan"] == min(landed[p] for p in faultpoints.PHASES)
                env = {}
                if armed_for_plan:
                    arrival = 1 if round_state(net, "victim", block) is not None else 2
                    env = {faultpoints.ENV: faultpoints.KillAt("plan", arrival).format()}
                carried = Life(net, "victim", logs / f"victim-{lives}.log", env=env)
                carried.wait_ready()
            ready = time.monotonic()
            wait_round(net, "victim", block, life=carried)
            window = max(1.0, 1.5 * (time.monotonic() - ready))  # about a round's length, for the next random kill
            wait_round(net, "ref", block, life=reference)
        carried.kill()
        landed["idle (after the last round)"] += 1
        problems += [f"after the last kill: {p}" for p in check_after_kill(net, blocks[-1])]
    finally:
        reference.kill()
        if carried is not None:
            carried.kill()
    # the end state against the run never killed
    ref_uid, victim_uid = uid_of(net, "ref"), uid_of(net, "victim")
    history = net.chain.weight_history()
    want = {b: 1 for b in blocks}
    writes = {"ref": writes_per_round(history, ref_uid, INTERVAL), "victim": writes_per_round(history, victim_uid,
                                                                                               INTERVAL)}
    lost = sum(max(0, 1 - writes["victim"].get(b, 0)) for b in blocks)
    double = sum(max(0, n - 1) for n in writes["victim"].values())
    ema, ref_ema = ema_by_round(net, "victim"), ema_by_round(net, "ref")
    results, ref_results = results_by_round(net, "victim"), results_by_round(net, "ref")
    lost += sum(b not in results for b in blocks)
    with read_db(state_path(net, "victim")) as v, read_db(state_path(net, "ref")) as r:
        counted = {name: (v.execute("SELECT COALESCE(SUM(value), 0) FROM counters WHERE name = ?", (name,))
                          .fetchone()[0], r.execute("SELECT COALESCE(SUM(value), 0) FROM counters WHERE name = ?",
                                                    (name,)).fetchone()[0])
                   for name in ("rounds_completed", "models_evaluated", "samples_evaluated", "weights_set")}
    double += sum(max(0, a - b) for a, b in counted.values())
    lost += sum(max(0, b - a) for a, b in counted.values())
    killed = sum(landed.values())
    recovered = killed if not problems and lost == 0 and double == 0 else 0
    wall = time.monotonic() - started
    for label, n in sorted(landed.items()):
        record("kill", f"kill -9 {label}", injected=n, recovered=n if recovered else 0, scale=scale)
    record("kill", "kill -9 total", injected=killed, recovered=recovered, lost=int(lost), double=int(double),
           scale=scale, rounds=rounds, restarts=lives, wall_s=round(wall, 1), load_avg=round(os.getloadavg()[0], 2))
    print(f"kills by phase: {dict(sorted(landed.items()))}; {lives} lives, {rounds} rounds, {wall:.0f} s")
    assert problems == []
    assert writes["victim"] == want and writes["ref"] == want, writes
    assert results == ref_results
    assert ema.keys() == ref_ema.keys() == set(blocks)
    for b in blocks:
        assert ema[b] == pytest.approx(ref_ema[b], abs=1e-12), b
    weights = net.chain.weights()
    assert weights[victim_uid] == weights[ref_uid]
    assert all(a == b for a, b in counted.values()), counted
    assert lost == 0 and double == 0
    assert killed >= KILLS[scale]
    if scale == "full":
        assert set(faultpoints.PHASES) <= set(landed), landed
