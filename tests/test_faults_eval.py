"""The evaluation process under faults: killed as the OOM killer does, out of memory under RLIMIT_AS, hanging.

The real round runner on an embedded network with three miners' tiny models; its isolated worker is the real
one, except that chosen evaluation calls run a fault in the child instead (`standins.eval_faults`: no model
file is touched) or have the child SIGKILLed from outside while it works. What must hold: the model gets a
`failed` verdict for the round with its reason kind (eval_crash / over_memory / eval_timeout), the worker is
replaced, the next model is evaluated in the same round, and nothing is counted twice.
"""

from __future__ import annotations

import os
import resource
import signal
import threading
from collections import Counter

import pytest

from fault_record import SCALES, record
from network import Network
from node.evaluation.model_job import evaluate_model, warm_up
from node.refusal import RefusalKind
from node.worker import IsolatedWorker
from small_model import require_assets
from standins import eval_faults
from validator.round import RoundRunner
from validator.services import build_services
from validator.settings import _coerce, field_for_key, resolve

pytestmark = pytest.mark.assets
MINERS = ("alice", "bob", "carol")
HANG_LIMIT_S = 3.0  # the per-call limit of a hung call (the real evaluations keep the validator's own)
KIND = {"kill": RefusalKind.EVAL_CRASH, "oom": RefusalKind.OVER_MEMORY, "hang": RefusalKind.EVAL_TIMEOUT}


class FaultyWorker(IsolatedWorker):
    """The real worker; the evaluation calls listed in `faults` (by their index in this worker's life) fail."""

    def __init__(self) -> None:
        super().__init__()
        self.evaluations = 0
        self.faults: dict[int, str] = {}
        self.injected: list[tuple[int, str]] = []

    def call(self, fn, *args, timeout_s: float, **kwargs):
        if fn is not evaluate_model:
            return super().call(fn, *args, timeout_s=timeout_s, **kwargs)
        index, self.evaluations = self.evaluations, self.evaluations + 1
        fault = self.faults.pop(index, None)
        if fault is None:
            return super().call(fn, *args, timeout_s=timeout_s, **kwargs)
        self.injected.append((index, fault))
        if fault == "oom":
            return super().call(eval_faults.exhaust_memory, *args, timeout_s=timeout_s)
        if fault == "hang":
            return super().call(eval_faults.hang, *args, timeout_s=min(timeout_s, HANG_LIMIT_S))
        killer = threading.Timer(1.0, lambda: os.kill(self.pid, signal.SIGKILL))  # mid-evaluation
        killer.start()
        try:
            return super().call(eval_faults.hang, *args, timeout_s=timeout_s)
        finally:
            killer.cancel()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    require_assets()
    root = tmp_path_factory.mktemp("evalnet")
    network = Network(root, interval=10)
    network.publish_random_miners(MINERS)
    return network


@pytest.fixture(scope="module")
def services(net):
    net.validator("evaluator")
    flags = net.validator_flags("evaluator", net.root / "state") | {"round.samples": "4"}
    settings = resolve({key: _coerce(field_for_key(key), value) for key, value in flags.items()}, env={})
    built = build_services(settings)
    built.worker.close()
    built.worker = FaultyWorker()
    assert built.worker.call(warm_up, timeout_s=600).ok
    yield built
    built.close()


def run_round(net: Network, services, faults: dict[int, str]):
    net.chain.advance(10 - net.chain.block() % 10)
    block = net.chain.block()
    worker, state = services.worker, services.state
    worker.faults = {worker.evaluations + k: fault for k, fault in faults.items()}
    starts, injected, idle = worker.starts, len(worker.injected), worker.pid is None
    before = {key: state.count(*key) for key in
              [("models_evaluated", "")] + [("models_failed", kind.value) for kind in KIND.values()]}
    assert RoundRunner(services).run(block)
    rows = state.round_models(block)
    # a fault on the round's last call leaves no child: its replacement starts with the next call (next round)
    restarts = worker.starts - starts + (worker.pid is None) - idle
    return block, rows, restarts, worker.injected[injected:], before


@pytest.mark.parametrize("scale", SCALES)
def test_a_killed_oom_or_hung_evaluation_fails_its_model_and_the_round_goes_on(net, services, scale):
    plans = [{0: "kill", 1: "hang"}, {1: "oom"}]
    if scale == "full":
        plans += [{0: "kill"}, {0: "oom"}, {1: "hang"}, {0: "kill", 1: "oom"}, {1: "hang", 2: "kill"},
                  {0: "oom", 1: "oom"}, {2: "kill"}, {0: "hang"}]
    injected = recovered = lost = double = 0
    by_kind: Counter[str] = Counter()
    state = services.state
    for plan in plans:
        block, rows, restarts, done, before = run_round(net, services, plan)
        services.worker.faults = {}  # a round may plan fewer models than the plan names (its selection rules)
        assert [f for _, f in done] == [plan[k] for k in sorted(plan)][:len(done)], (plan, done)
        faults = [f for _, f in done]
        failed = [r for r in rows if r["state"] == "failed"]
        evaluated = [r for r in rows if r["state"] == "evaluated"]
        assert len(failed) == len(faults), [dict(r) for r in rows]  # a round may plan none (recent failures)
        assert len(evaluated) == len(rows) - len(faults), [dict(r) for r in rows]
        reasons = sorted(r["reason"] for r in failed)
        assert reasons == sorted(KIND[f].value for f in faults), (plan, [dict(r) for r in failed])
        for row in failed:
            assert row["attempts"] == 1, dict(row)  # final for the round: not retried, not counted twice
            if row["reason"] == RefusalKind.EVAL_CRASH.value:
                assert "SIGKILL" in row["message"], row["message"]
        assert restarts == len(faults)  # a fresh process after each fault, not one per model
        assert state.count("models_evaluated") - before[("models_evaluated", "")] == len(evaluated)
        for fault, kind in KIND.items():
            counted = state.count("models_failed", kind.value) - before[("models_failed", kind.value)]
            assert counted == faults.count(fault), (fault, counted)
        assert state.round(block)["state"] == "done"
        assert bool(state.results(block)) == bool(evaluated)  # scored from what was evaluated
        injected += len(faults)
        recovered += len(faults) if len(evaluated) == len(rows) - len(faults) else 0
        double += sum(r["attempts"] - 1 for r in failed)
        lost += sum(r["state"] not in ("evaluated", "failed", "rejected") for r in rows)
        by_kind.update(faults)
    # the round's selection withholds models that just failed, so later plans name models not in the round:
    # at least the short scale's three land (every kind is checked at the short scale)
    assert lost == 0 and injected >= 3, by_kind
    block, rows, restarts, done, _ = run_round(net, services, {})  # every model evaluated again afterwards
    assert done == [] and restarts == 0 and all(r["state"] == "evaluated" for r in rows), [dict(r) for r in rows]
    for fault in KIND:
        record("eval", fault, injected=by_kind[fault], recovered=by_kind[fault], scale=scale)
    record("eval", "all", injected=injected, recovered=recovered, lost=lost, double=double, scale=scale,
           rounds=len(plans))


def test_a_worker_out_of_memory_exits_so_the_next_call_has_a_fresh_process_without_its_limit():
    """A MemoryError under RLIMIT_AS is reported as over_memory, and the process that had it is not reused:
    the next call runs in a new child, with the address space unlimited again."""
    with IsolatedWorker() as worker:
        first = worker.call(eval_faults.address_space_limit, timeout_s=60)
        assert first.ok and first.value[0] == resource.RLIM_INFINITY
        oom = worker.call(eval_faults.exhaust_memory, timeout_s=60)
        assert oom.kind is RefusalKind.OVER_MEMORY and "MemoryError" in oom.message
        after = worker.call(eval_faults.address_space_limit, timeout_s=60)
        assert after.ok and after.value[0] == resource.RLIM_INFINITY and after.value[1] != first.value[1]
        assert worker.starts == 2
