"""The daemon loop: find the round the chain is in, resume or run it, wait for the next; survive anything.

On start it sweeps work a killed predecessor left `running`, then resumes unfinished rounds no older than the
resume window (older ones are abandoned: their samples and pointers are stale). A head block lower than
a round already planned (a reconnect to a lagging node) plans nothing until the chain is past it again.
SIGTERM and SIGINT stop it at the next safe point (between models, or by interrupting the evaluation
process, whose model goes back to pending); SIGHUP re-reads the config file at the next round boundary.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

from node.chain import ChainReadError
from node.evaluation.model_job import warm_up
from node.hub.leases import release, try_exclusive
from validator import faultpoints
from validator.metrics import start_metrics
from validator.round import RoundRunner
from validator.services import Services, build_services
from validator.settings import Settings
from validator.sync import RoundNotReady, round_block

log = logging.getLogger(__name__)


class Daemon:
    """Runs rounds until stopped (or `max_rounds` are completed)."""

    def __init__(self, settings: Settings, *, reload: Callable[[], Settings] | None = None) -> None:
        self.settings = settings
        self._reload = reload
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self.services: Services | None = None
        self.completed = 0

    # -- signals ---------------------------------------------------------------------------------------

    def request_stop(self, *_: object) -> None:
        if not self._stop.is_set():
            log.info("stop requested: finishing at the next safe point")
        self._stop.set()
        if self.services is not None:  # an evaluation in flight is interrupted; its model is redone later
            self.services.worker.interrupt()

    def request_reload(self, *_: object) -> None:
        log.info("SIGHUP: the config file is re-read at the next round boundary")
        self._reload_requested.set()

    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGHUP, self.request_reload)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)

    # -- the loop --------------------------------------------------------------------------------------

    def run(self) -> int:
        self.settings.state_path.mkdir(parents=True, exist_ok=True)
        lock = try_exclusive(self.settings.state_path / "daemon.lock")
        if lock is None:
            log.error("another validator is running on %s; one daemon per state directory", self.settings.state_path)
            return 1
        try:
            return self._run()
        finally:
            release(lock)

    def _run(self) -> int:
        kill_at = faultpoints.armed()  # a malformed test hook is refused before anything starts
        if kill_at is not None:
            log.warning("fault point armed (%s=%s): this process will kill itself", faultpoints.ENV, kill_at.format())
        self.services = build_services(self.settings)
        metrics = None
        try:
            metrics = start_metrics(self.settings)  # reads the state database on each scrape; None when off
            swept = self.services.state.sweep()
            if swept:
                log.info("swept %d model evaluations a previous process left running", swept)
            log.info("validator %s on %s, state in %s", self.services.hotkey, self.settings.chain_spec,
                     self.settings.state_path)
            warmed = self.services.worker.call(warm_up, timeout_s=600)
            log.info("evaluation worker %s", "ready" if warmed.ok else f"not ready: {warmed.message}")
            failures = 0
            while not self.stopping:
                if self._reload_requested.is_set() and self._reload is not None:
                    self._apply_reload()
                try:
                    completed = self.step()
                    failures = 0
                except Exception:  # survive anything: the state database says where to pick up
                    failures += 1
                    delay = min(300.0, self.settings.poll_interval_s * 2 ** min(failures, 8))
                    log.exception("round step failed (%d in a row); retrying in %.0f s", failures, delay)
                    self._sleep(delay)
                    continue
                if completed and self.settings.max_rounds and self.completed >= self.settings.max_rounds:
                    log.info("completed %d rounds (--max-rounds); exiting", self.completed)
                    break
            return 0
        finally:
            if metrics is not None:
                metrics.close()
            self.services.close()
            self.services = None

    def step(self) -> bool:
        """One pass: True when it completed a round."""
        services, interval = self.services, self.settings.round_interval_blocks
        try:
            current = services.chain.block()
        except ChainReadError as err:
            services.state.note_error("chain_errors", "read")
            log.warning("cannot read the chain head (%s); retrying", err)
            self._sleep(self.settings.poll_interval_s)
            return False
        target = round_block(current, interval)
        runner = RoundRunner(services, stop_requested=lambda: self.stopping)
        for row in services.state.rounds(["evaluating", "scored"]):
            block = int(row["block"])
            if block == target:
                continue
            if block >= target - self.settings.resume_window_rounds * interval:
                log.info("resuming round %d", block)
                done = runner.run(block)
                self.completed += done
                return done
            log.warning("abandoning round %d: older than the resume window", block)
            services.state.abandon_round(block)
        row = services.state.round(target)
        if row is not None and row["state"] in ("done", "abandoned"):
            self._sleep(self.settings.poll_interval_s)
            return False
        newest = services.state.last_round(("evaluating", "scored", "done", "abandoned"))
        if row is None and newest is not None and target < int(newest["block"]):
            # a reconnect to a node behind the last one: never plan a round older than one already planned
            services.state.note_error("chain_errors", "behind")
            log.warning("chain head %d is behind round %d, already planned; waiting for it", current,
                        int(newest["block"]))
            self._sleep(self.settings.poll_interval_s)
            return False
        try:
            done = runner.run(target)
        except RoundNotReady as err:
            log.warning("round %d not ready: %s", target, err)
            self._sleep(self.settings.poll_interval_s)
            return False
        if done:
            self.completed += 1
        return done

    def _apply_reload(self) -> None:
        self._reload_requested.clear()
        try:
            new = self._reload()
        except Exception as err:  # a bad edit keeps the running settings
            log.error("config reload failed, keeping the current settings: %s", err)
            return
        if new == self.settings:
            log.info("config reloaded: nothing changed")
            return
        log.info("config reloaded: rebuilding services")
        self.services.close()
        self.settings = new
        self.services = build_services(new)


def run_daemon(settings: Settings, reload: Callable[[], Settings] | None = None) -> int:
    daemon = Daemon(settings, reload=reload)
    daemon.install_signals()
    started = time.time()
    code = daemon.run()
    log.info("stopped after %.0f s, %d rounds completed", time.time() - started, daemon.completed)
    return code
