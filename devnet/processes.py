"""The devnet's child processes: each in its own process group, its output in its own log file.

Why process groups: a child (the validator) starts children of its own (the isolated evaluation worker), and
stopping the devnet must stop all of them. Each child is started with `start_new_session=True`, so it leads a
group that `os.killpg` reaches entirely, and so a Ctrl-C on the terminal reaches only the orchestrator, which
then stops the groups itself (SIGTERM, then SIGKILL after a grace period) and reports where it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil


class ChildFailed(RuntimeError):
    """A phase's command exited non-zero; the message names it, its exit code and its log."""

    def __init__(self, name: str, code: int, log: Path) -> None:
        tail = log.read_text(errors="replace").splitlines()[-15:] if log.exists() else []
        super().__init__(f"{name} exited with code {code} (log: {log})\n" + "\n".join("    " + t for t in tail))
        self.name, self.code, self.log = name, code, log


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path


class Children:
    """Starts, waits for and stops the devnet's child processes (`python -m ...` in `cwd`, env for them)."""

    def __init__(self, logs: Path, env: dict[str, str], cwd: Path, stop_timeout_s: float = 20.0) -> None:
        self.logs, self.env, self.cwd, self.stop_timeout_s = logs, env, cwd, stop_timeout_s
        self.running: list[Child] = []
        logs.mkdir(parents=True, exist_ok=True)

    def start(self, name: str, args: Sequence[str]) -> Child:
        """Start `python -m <args>` with stdout and stderr appended to `<logs>/<name>.log`."""
        log = self.logs / f"{name}.log"
        with open(log, "ab") as out:
            out.write(f"$ python -m {' '.join(args)}\n".encode())
            out.flush()
            process = subprocess.Popen([sys.executable, "-m", *args], stdout=out, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=self.cwd, env=self.env, start_new_session=True)
        child = Child(name, process, log)
        self.running.append(child)
        return child

    def run(self, name: str, args: Sequence[str], ok_codes: tuple[int, ...] = (0,)) -> tuple[int, str]:
        """Run one command to its end; its exit code and what it printed. Another code raises `ChildFailed`."""
        child = self.start(name, args)
        offset = child.log.stat().st_size
        code = self.wait(child)
        with open(child.log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        if code not in ok_codes:
            raise ChildFailed(name, code, child.log)
        return code, text

    def wait(self, child: Child, timeout: float | None = None) -> int:
        code = child.process.wait(timeout)
        self.running.remove(child)
        return code

    def stop(self, child: Child) -> int:
        """SIGTERM the child's whole group, SIGKILL it after the grace period; returns the exit code."""
        _signal_group(child.process.pid, signal.SIGTERM)
        try:
            code = child.process.wait(self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            _signal_group(child.process.pid, signal.SIGKILL)
            code = child.process.wait()
        _signal_group(child.process.pid, signal.SIGKILL)  # grandchildren that outlived their parent
        deadline = time.monotonic() + 5.0
        while group_alive(child.process.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if child in self.running:
            self.running.remove(child)
        return code

    def stop_all(self) -> list[str]:
        """Stop every running child (newest first); the names of those that were running."""
        names = []
        for child in reversed(list(self.running)):
            names.append(child.name)
            self.stop(child)
        return names


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_members(pgid: int) -> list[int]:
    """Live processes of process group `pgid` (zombies, already dead and waiting to be reaped, do not count)."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(process.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def sleep_until(predicate, timeout_s: float, poll_s: float = 0.5, watch: Child | None = None) -> None:
    """Poll `predicate` until true; raise TimeoutError after `timeout_s`, ChildFailed if `watch` exits."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if watch is not None and watch.process.poll() is not None:
            raise ChildFailed(watch.name, watch.process.returncode, watch.log)
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout_s:.0f} s")
        time.sleep(poll_s)
