"""Every hostile input refused with its reason kind, within its time and memory bound; every valid one accepted.

The cases live in `node.gate.adversarial` (so `scripts/adversarial_report` runs the same ones). They
run in worker processes under RLIMIT_AS = 3 GiB: the default test batches them over two workers
(process start-up, torch import included, is most of the cost); the slow test gives every case its
own process. The control cases check the judge itself: each breaks one rule and must be flagged.
"""

from __future__ import annotations

import pytest

from node.gate.adversarial.registry import all_cases
from node.gate.adversarial.report import assets_built
from node.gate.adversarial.runner import run_cases, summary


def selected(include_slow: bool) -> list:
    return [c for c in all_cases().values()
            if (include_slow or not c.slow) and (not c.needs_assets or assets_built())]


def failures(results) -> list[str]:
    return [f"{r.case.name}: expected {r.case.expected}, got {r.got} ({r.outcome}, {r.seconds:.2f} s, "
            f"{r.peak_bytes >> 20} MiB) {r.message}" for r in results if not r.ok]


def test_registry_covers_enough_distinct_hostile_inputs():
    cases = all_cases()
    hostile = [c for c in cases.values() if c.expected is not None]
    assert len(hostile) >= 60
    groups = {c.group for c in hostile}
    assert {"files", "json", "config", "budget", "index", "header", "tensors", "values", "engine", "tokenizer",
            "pointer", "hub", "lineage"} <= groups
    assert len({c.expected for c in hostile}) >= 20  # most reason kinds are exercised
    assert sum(1 for c in cases.values() if c.expected is None) >= 15


def test_every_case_refused_with_its_reason_or_accepted():
    cases = selected(include_slow=False)
    results = run_cases(cases, batches=2)
    assert len(results) == len(cases)
    assert not failures(results), "\n".join(failures(results))
    print(summary(results))


def test_the_judge_flags_every_kind_of_failure():
    controls = {c.name: c for c in all_cases(include_controls=True).values() if c.group == "control"}
    results = {r.case.name: r.outcome for r in run_cases(list(controls.values()), hang_grace_s=3.0)}
    assert results == {
        "control_hang": "hangs",
        "control_over_memory": "over_memory",
        "control_generic": "generic",
        "control_wrongly_accepted": "wrongly_accepted",
        "control_wrongly_refused": "wrongly_refused",
        "control_slow": "hangs",
    }


@pytest.mark.slow
def test_every_case_in_its_own_process():
    cases = selected(include_slow=True)
    results = run_cases(cases, one_per_case=True)
    assert not failures(results), "\n".join(failures(results))
