"""A real validator daemon under load: many miners, many distinct tiny models and the small trained model.

`run_load(root, scale)` builds an embedded network (hand-moved clock, directory hub), starts
`python -m validator run` as its own process, and drives it round by round: before each round it commits that
round's batch of models (new distinct tiny models, copies of them under other hotkeys, and in the first round
the small trained model), moves the clock to the next round block and waits until the daemon has finished the
round, sampling the resident memory of the daemon and of its evaluation worker (and any other child) all the
while. What it returns per round comes from the daemon's own state database (times, how many
(model, sample) losses the worker computed, by kind of model) and from the file system (database size).

Why every round uses a fresh sample set (`round.samples` well below the 443 held-out samples): it is what a
real network does (the seed comes from the round's block hash), so the loss cache pays off only through
overlap: a pool model meets fewer and fewer unseen samples as rounds go by, and a steady-state round
computes little more than spot checks. Samples are capped at `cap_chars` characters so every sample costs
about the same.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from network import ROOT, Network, competitions_document, random_model, unigram_model, validator_env
from node.assets.layout import SMALL_MODEL_LLAMA, AssetLayout
from node.identity import select_model_files

INTERVAL = 10  # blocks between rounds
SAMPLE_EVERY_S = 0.1  # memory sampling period


@dataclass(frozen=True)
class LoadScale:
    """One load configuration. `new_per_round[r]`: distinct tiny models first committed before round r."""

    miners: int
    new_per_round: tuple[int, ...]
    copies_per_round: tuple[int, ...]
    rounds: int
    samples: int
    cap_chars: int = 64  # ~14 GPT-2 tokens: the small model's forward pass is then ~0.2 s on one thread
    revisit_rounds: int = 5
    round_timeout_s: float = 900.0

    def __post_init__(self) -> None:
        if sum(self.new_per_round) + sum(self.copies_per_round) + 1 > self.miners:
            raise ValueError("more commitments than miners")
        if len(self.new_per_round) > self.rounds or len(self.copies_per_round) > self.rounds:
            raise ValueError("a commit schedule longer than the run")

    @property
    def distinct(self) -> int:
        return sum(self.new_per_round)


LOAD_SCALES = {
    "short": LoadScale(miners=16, new_per_round=(4, 4), copies_per_round=(3, 4), rounds=3, samples=8),
    "full": LoadScale(miners=64, new_per_round=(4, 1, 2, 3, 4, 5, 6, 4, 3), copies_per_round=(3,) * 10 + (1,),
                      rounds=20, samples=48),
}


@dataclass(frozen=True)
class RoundFigures:
    """One round as the daemon recorded it, with what the harness measured around it."""

    block: int
    wall_s: float  # planned -> done, from the state database
    cpu_s: float  # CPU seconds of the daemon and its worker while the round ran (what load on the machine spares)
    eval_s: float  # time inside the evaluation process (all models)
    models: int  # models the round processed
    tiny_evals: int  # (model, sample) losses the worker computed for tiny models (uncached + spot checks)
    small_evals: int  # ... for the small trained model
    cached: int  # losses taken from the cache
    rss_daemon_mb: float  # peak while the round ran
    rss_children_mb: float  # peak of the evaluation worker (and any other child), summed
    rss_total_mb: float  # peak of daemon + children at one instant
    db_mb: float  # the database's size after the round (its pages, the WAL's included)
    wal_mb: float  # its write-ahead log (reused after each checkpoint, so bounded by SQLite's autocheckpoint)
    states: dict[str, int] = field(default_factory=dict)  # round_models.state -> count
    contents: frozenset[str] = frozenset()  # content hashes of the models evaluated (not rejected)
    duplicates: int = 0  # copies rejected as duplicates this round


@dataclass(frozen=True)
class LoadRun:
    scale: LoadScale
    rounds: list[RoundFigures]
    exit_code: int
    log_tail: str
    wall_s: float
    cache_errors: list[str]


def _small_model_copy(dst: Path) -> Path:
    src = AssetLayout.default().model_dir(SMALL_MODEL_LLAMA)
    dst.mkdir(parents=True)
    for name in select_model_files(p.name for p in src.iterdir()):
        shutil.copyfile(src / name, dst / name)
    return dst


class MemorySampler:
    """Samples the RSS of a process tree on a thread; `cut()` returns the peaks since the previous cut."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self._lock = threading.Lock()
        self._peaks = (0.0, 0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> tuple[float, float]:
        own = self.root.memory_info().rss
        children = 0
        for child in self.root.children(recursive=True):
            try:
                children += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return own / 2**20, children / 2**20

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                own, children = self._sample()
            except psutil.NoSuchProcess:
                return
            with self._lock:
                d, c, t = self._peaks
                self._peaks = (max(d, own), max(c, children), max(t, own + children))
            self._stop.wait(SAMPLE_EVERY_S)

    def cpu_s(self) -> float:
        """User + system CPU seconds of the tree's live processes (the worker lives across rounds)."""
        total = 0.0
        for proc in [self.root, *self.root.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def cut(self) -> tuple[float, float, float]:
        with self._lock:
            peaks, self._peaks = self._peaks, (0.0, 0.0, 0.0)
        return peaks

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def _round_row(state_file: Path, block: int) -> dict | None:
    if not state_file.exists():
        return None
    conn = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT * FROM rounds WHERE block = ?", (block,)).fetchone()
        if row is None or row["state"] != "done":
            return None
        models = [dict(r) for r in conn.execute("SELECT * FROM round_models WHERE round_block = ?", (block,))]
        return {"round": dict(row), "models": models}
    except sqlite3.OperationalError:  # the schema is not there yet
        return None
    finally:
        conn.close()


def _db_mb(state_file: Path) -> tuple[float, float]:
    """(the database's logical size, pages a reader sees including the WAL's; the WAL file's size) in MB."""
    conn = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True, timeout=30)
    try:
        pages = conn.execute("PRAGMA page_count").fetchone()[0] * conn.execute("PRAGMA page_size").fetchone()[0]
    finally:
        conn.close()
    wal = state_file.with_name(state_file.name + "-wal")
    return pages / 2**20, (wal.stat().st_size if wal.exists() else 0) / 2**20


def cache_accounting_errors(state_file: Path, *, spot_fraction: float = 0.02, spot_max: int = 10) -> list[str]:
    """Every model-round where the loss cache did not serve exactly the pairs computed before.

    Replays the rounds in order: a model's content has seen the samples of every earlier round it was scored
    in; in this round it must find exactly those cached and compute the rest plus its spot checks (the
    daemon's settings: 2 %, at most 10). An empty list means the cache never missed and never over-served.
    """
    from validator.evaluate import spot_check_ids

    conn = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    seen: dict[str, set[str]] = {}
    errors: list[str] = []
    try:
        for rnd in conn.execute("SELECT block, seed FROM rounds WHERE state = 'done' ORDER BY block").fetchall():
            block = int(rnd["block"])
            samples = {r["sample_id"] for r in conn.execute(
                "SELECT sample_id FROM round_samples WHERE round_block = ?", (block,))}
            for m in conn.execute("SELECT * FROM round_models WHERE round_block = ? AND content_hash IS NOT NULL "
                                  "AND evaluated_samples + cached_samples > 0 ORDER BY commit_block, hotkey",
                                  (block,)).fetchall():
                known = seen.setdefault(m["content_hash"], set())
                cached = samples & known
                spot = len(spot_check_ids(sorted(cached), int(rnd["seed"]), m["content_hash"], spot_fraction,
                                          spot_max))
                want = (len(cached), len(samples - known) + spot)
                got = (int(m["cached_samples"]), int(m["evaluated_samples"]))
                if got != want:
                    errors.append(f"round {block} {m['hotkey'][:10]}: (cached, evaluated) {got}, expected {want}")
                known |= samples
    finally:
        conn.close()
    return errors


class LoadNetwork:
    """The network, its miners and the commit schedule."""

    def __init__(self, root: Path, scale: LoadScale) -> None:
        self.root, self.scale = root, scale
        self.net = Network(root, interval=INTERVAL)
        self.net.competitions.write_text(json.dumps(competitions_document(
            parameters=200_000_000, model_size=2_000_000_000, cap_sample_len=scale.cap_chars)))
        self.net.validator("load")
        self.miners = [self.net.miner(f"m{i:03d}") for i in range(scale.miners)]
        self.small_hotkey = self.miners[0].hotkey.ss58_address
        self._next_miner = 1
        self._models: list[tuple[str, Path]] = []  # (repo, folder) of each distinct tiny model
        self._copied = 0

    def _wallet(self):
        wallet = self.miners[self._next_miner]
        self._next_miner += 1
        return wallet

    def commit_batch(self, round_index: int) -> None:
        """The commitments made before round `round_index` (0-based), all in the current block."""
        if round_index == 0:
            self.net.publish(self.miners[0], _small_model_copy(self.root / "small"), "small/smollm2")
        if round_index < len(self.scale.new_per_round):
            for _ in range(self.scale.new_per_round[round_index]):
                n = len(self._models)
                folder = self.root / "models" / f"tiny{n:03d}"
                (unigram_model(folder, seed=n) if n % 2 else random_model(folder, seed=n))
                repo = f"tiny{n:03d}/model"
                self.net.publish(self._wallet(), folder, repo)
                self._models.append((repo, folder))
        if round_index < len(self.scale.copies_per_round):
            for _ in range(self.scale.copies_per_round[round_index]):
                repo, folder = self._models[self._copied % len(self._models)]
                # a copier re-uploads someone's files under its own repo and hotkey: same content hash
                self.net.publish(self._wallet(), folder, f"copy{self._copied:03d}/{repo.split('/')[0]}")
                self._copied += 1


def _figures(block: int, done: dict, peaks: tuple[float, float, float], db: tuple[float, float],
             small_hotkey: str, cpu_s: float) -> RoundFigures:
    row, models = done["round"], done["models"]
    states: dict[str, int] = {}
    for m in models:
        states[m["state"]] = states.get(m["state"], 0) + 1
    return RoundFigures(
        block=block, wall_s=float(row["finished_at"]) - float(row["started_at"]), cpu_s=cpu_s,
        eval_s=sum(float(m["eval_seconds"]) for m in models), models=len(models),
        tiny_evals=sum(int(m["evaluated_samples"]) for m in models if m["hotkey"] != small_hotkey),
        small_evals=sum(int(m["evaluated_samples"]) for m in models if m["hotkey"] == small_hotkey),
        cached=sum(int(m["cached_samples"]) for m in models),
        rss_daemon_mb=peaks[0], rss_children_mb=peaks[1], rss_total_mb=peaks[2], db_mb=db[0], wal_mb=db[1],
        states=states, contents=frozenset(m["content_hash"] for m in models if m["state"] == "evaluated"),
        duplicates=sum(m["reason"] == "duplicate" for m in models))


def run_load(root: Path, scale: LoadScale) -> LoadRun:
    """Build the network, run the daemon through `scale.rounds` rounds, stop it with SIGTERM."""
    started = time.monotonic()
    network = LoadNetwork(root, scale)
    net = network.net
    state_dir = root / "state"
    command = net.validator_command("load", state_dir, "--round.max_models", str(scale.miners + 8),
                                    "--revisit_rounds", str(scale.revisit_rounds), "--logging.json")
    command[command.index("--round.samples") + 1] = str(scale.samples)
    log_path = root / "daemon.log"
    rounds: list[RoundFigures] = []
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=validator_env(), stdout=subprocess.DEVNULL, stderr=log)
        sampler = MemorySampler(process.pid)
        try:
            for r in range(scale.rounds):
                network.commit_batch(r)
                net.chain.advance(INTERVAL - net.chain.block() % INTERVAL)
                block = net.chain.block()
                sampler.cut()  # the window of this round starts now
                cpu_before = sampler.cpu_s()
                deadline = time.monotonic() + scale.round_timeout_s
                while (done := _round_row(state_dir / "state.sqlite", block)) is None:
                    if process.poll() is not None:
                        raise RuntimeError(f"daemon exited with {process.returncode}:\n{_tail(log_path)}")
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"round {block} not done in {scale.round_timeout_s} s:\n{_tail(log_path)}")
                    time.sleep(0.1)
                rounds.append(_figures(block, done, sampler.cut(), _db_mb(state_dir / "state.sqlite"),
                                       network.small_hotkey, sampler.cpu_s() - cpu_before))
                print(f"load round {r + 1}/{scale.rounds}: {rounds[-1]}", file=sys.stderr, flush=True)
            process.terminate()
            code = process.wait(timeout=120)
        finally:
            sampler.close()
            if process.poll() is None:
                process.kill()
                process.wait()
    return LoadRun(scale, rounds, code, _tail(log_path), time.monotonic() - started,
                   cache_accounting_errors(state_dir / "state.sqlite"))


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
