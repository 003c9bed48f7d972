"""An optional Prometheus endpoint (`--metrics.port`, off by default, bound to `--metrics.host`: 127.0.0.1).

Nothing is counted in this process: on every scrape a custom collector reads the state database (the `counters`
table, bumped in the same transaction as what it counts, and a few COUNT/SUM queries), so a restart of the
daemon neither resets nor doubles a counter, and two scrapes that see the same database answer the same.

Exposed (all prefixed `sn29_validator_`):
  rounds_completed_total, rounds_planned_total
  models_evaluated_total, models_rejected_total{reason}, models_failed_total{reason}, transient_failures_total{reason}
  samples_evaluated_total, cache_hits_total (sample losses taken from the cache), spot_check_drifts_total,
  evaluation_seconds_total, weight_writes_total{outcome="set"|"failed"}
  chain_errors_total{kind}, hub_errors_total{kind}
  last_round_block, last_round_seconds, samples_per_round{competition} (the newest finished round)
  evaluation_tokens_per_second (newly evaluated tokens / evaluation seconds in the newest finished round)
  seconds_since_weights_set (absent until weights were set once), state_database_up (0 when unreadable)
  counter_total{name, label} for any counter of the database not named above (nothing is hidden)
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from node import sqlite
from validator.state.queries import NoState, StateView

log = logging.getLogger(__name__)

PREFIX = "sn29_validator_"

# database counter name -> (metric name, help, label name or None when the counter has no label)
COUNTERS: dict[str, tuple[str, str, str | None]] = {
    "rounds_completed": ("rounds_completed", "Rounds taken to done.", None),
    "rounds_planned": ("rounds_planned", "Rounds planned (chain read, models and samples chosen).", None),
    "models_evaluated": ("models_evaluated", "Model evaluations that produced losses.", None),
    "models_rejected": ("models_rejected", "Models refused, by reason kind.", "reason"),
    "models_failed": ("models_failed", "Models whose evaluation failed, by reason kind.", "reason"),
    "transient_failures": ("transient_failures", "Failures retried within the round, by reason kind.", "reason"),
    "samples_evaluated": ("samples_evaluated", "Sample losses computed.", None),
    "cache_hits": ("cache_hits", "Sample losses taken from the loss cache instead of computed.", None),
    "spot_check_drifts": ("spot_check_drifts", "Spot checks whose fresh loss drifted from the cache.", None),
    "eval_seconds": ("evaluation_seconds", "Seconds spent inside the evaluation process.", None),
    "chain_errors": ("chain_errors", "Chain errors, by kind.", "kind"),
    "hub_errors": ("hub_errors", "Hub errors, by kind (reason kind of the refusal).", "kind"),
}
WEIGHT_OUTCOMES = {"weights_set": "set", "weights_failed": "failed"}


@dataclass(frozen=True)
class Snapshot:
    """What one scrape read, in one read transaction."""

    counters: dict[tuple[str, str], float]
    last_round: int | None
    last_round_seconds: float | None
    samples: dict[str, int]
    tokens: int
    eval_seconds: float
    weights_set_at: float | None


def read_snapshot(view: StateView) -> Snapshot:
    with sqlite.read_transaction(view.conn):
        last = view.latest_round(("done",))
        summary = None if last is None else view.round_summary(last)
        tokens, seconds = (0, 0.0) if last is None else view.round_throughput(last)
        weights = view.weights_last_set()
        return Snapshot(view.counters(), last, None if summary is None else summary.seconds,
                        {} if summary is None else summary.samples, tokens, seconds,
                        None if weights is None else weights.updated_at)


class StateCollector(Collector):
    """Reads the validator's database on every scrape (its own connection, opened per scrape)."""

    def __init__(self, state_path: str | Path, clock=time.time) -> None:
        self.state_path = Path(state_path)
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(PREFIX + "state_database_up", "1 when the state database could be read.")
        try:
            with StateView(self.state_path) as view:
                snap = read_snapshot(view)
        except (NoState, sqlite3.Error) as err:
            log.debug("metrics: cannot read %s: %s", self.state_path, err)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from self._counters(snap)
        yield from self._gauges(snap)

    def _counters(self, snap: Snapshot) -> Iterator[Metric]:
        families: dict[str, CounterMetricFamily] = {}
        for db_name, (name, help_text, label) in COUNTERS.items():
            families[db_name] = CounterMetricFamily(PREFIX + name, help_text, labels=[label] if label else [])
            if label is None:
                families[db_name].add_metric([], snap.counters.get((db_name, ""), 0.0))
        writes = CounterMetricFamily(PREFIX + "weight_writes", "Weight writes by outcome.", labels=["outcome"])
        for outcome in WEIGHT_OUTCOMES.values():
            writes.add_metric([outcome], 0.0 + sum(v for (n, _), v in snap.counters.items()
                                                   if WEIGHT_OUTCOMES.get(n) == outcome))
        other = CounterMetricFamily(PREFIX + "counter", "Other counters of the state database.",
                                    labels=["name", "label"])
        for (db_name, label_value), value in sorted(snap.counters.items()):
            known = COUNTERS.get(db_name)
            if known is not None and known[2] is not None:
                families[db_name].add_metric([label_value], value)
            elif known is None and db_name not in WEIGHT_OUTCOMES:
                other.add_metric([db_name, label_value], value)
            elif known is not None and label_value:  # a labelled bump of an unlabelled counter: keep it visible
                other.add_metric([db_name, label_value], value)
        yield from families.values()
        yield writes
        yield other

    def _gauges(self, snap: Snapshot) -> Iterator[Metric]:
        if snap.last_round is not None:
            yield GaugeMetricFamily(PREFIX + "last_round_block", "Anchor block of the newest finished round.",
                                    value=snap.last_round)
        if snap.last_round_seconds is not None:
            yield GaugeMetricFamily(PREFIX + "last_round_seconds", "Wall time of the newest finished round.",
                                    value=snap.last_round_seconds)
        samples = GaugeMetricFamily(PREFIX + "samples_per_round", "Samples of the newest finished round.",
                                    labels=["competition"])
        for competition, n in sorted(snap.samples.items()):
            samples.add_metric([competition], n)
        yield samples
        if snap.eval_seconds > 0:
            yield GaugeMetricFamily(PREFIX + "evaluation_tokens_per_second",
                                    "Newly evaluated tokens per evaluation second in the newest finished round.",
                                    value=snap.tokens / snap.eval_seconds)
        if snap.weights_set_at is not None:
            yield GaugeMetricFamily(PREFIX + "seconds_since_weights_set", "Seconds since weights last reached "
                                    "the chain.", value=max(0.0, self.clock() - snap.weights_set_at))


class MetricsServer:
    """The HTTP endpoint in a daemon thread; `close()` stops it (the daemon calls it on the way out)."""

    def __init__(self, state_path: str | Path, host: str = "127.0.0.1", port: int = 0) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StateCollector(state_path))
        try:
            self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as err:  # port taken, address not local: say which setting to change
            raise OSError(f"cannot serve metrics on {host}:{port} (--metrics.host/--metrics.port): {err}") from err
        self.host = host
        self.port = int(self._server.server_port)
        log.info("metrics on http://%s:%d/metrics", host, self.port)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_metrics(settings) -> MetricsServer | None:
    """The endpoint the settings ask for (`--metrics.port` 0 = none), reading the daemon's state database."""
    if not settings.metrics_port:
        return None
    from validator.state.queries import state_file

    return MetricsServer(state_file(settings.state_path), settings.metrics_host, settings.metrics_port)
