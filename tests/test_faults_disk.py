"""The validator when its disk fills while downloading: eviction, a clean failure with a reason, recovery.

Three variants, in-process rounds on an embedded network (directory hub, tiny random models of about 19 MB):
- quota: the store's own size bound (`store.max_bytes`) holds one model, so each download evicts the older one;
- ENOSPC at the file-write boundary: the hub's download writes part of a file, then the write fails with ENOSPC
  (what a full disk does; runs anywhere);
- a real small filesystem: the whole state directory (database included) on a tmpfs, filled by another writer as a
  download starts (needs root for `mount`; skipped with the reason otherwise).
What must hold: older models are evicted first; the download fails as `store_full` (transient: retried, never a
verdict, a pool model carried), its partial files removed; the database passes `PRAGMA integrity_check`; the next
round after space returns evaluates everything.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from fault_record import SCALES, record
from network import COMPETITION, Network, random_model
from node.identity import parse_pointer
from small_model import require_assets
from validator.round import RoundRunner
from validator.services import build_services
from validator.settings import _coerce, field_for_key, resolve

pytestmark = pytest.mark.assets
MODEL_MB = 20  # a tiny random model with the GPT-2 vocabulary and its tokenizer files, rounded up


class FullDiskDuringDownload:
    """The validator's hub, except that the next `times` downloads meet a full disk: `fill(dest)` runs as the
    download starts (writes a partial file and raises ENOSPC, or fills the real filesystem)."""

    def __init__(self, hub, fill) -> None:
        self._hub, self._fill, self.times, self.hits = hub, fill, 0, 0
        self.only: str | None = None  # a repository: only its downloads meet the full disk

    def download(self, repo_id, revision, dest, **kwargs):
        if self.times > 0 and self.only in (None, repo_id):
            self.times -= 1
            self.hits += 1
            self._fill(Path(dest))
        return self._hub.download(repo_id, revision, dest, **kwargs)

    def __getattr__(self, name):
        return getattr(self._hub, name)


def enospc_after_partial_write(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "model.safetensors").write_bytes(b"\0" * (1 << 20))  # what got written before the disk was full
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dest / "model.safetensors"))


class DiskNet:
    def __init__(self, root: Path, state_dir: Path, **settings: str) -> None:
        self.net = Network(root, interval=10)
        self.net.validator("v1")
        self.names: dict[str, str] = {}
        self.pointers: dict[str, str] = {}
        flags = self.net.validator_flags("v1", state_dir) | {"round.samples": "2", "store.min_free_bytes": "0"}
        flags.update(settings)
        self.services = build_services(resolve({k: _coerce(field_for_key(k), v) for k, v in flags.items()}, env={}))
        self.round_sleeps: list[float] = []

    def publish(self, name: str, seed: int, root: Path) -> None:
        wallet = self.net.miner(name)
        self.names[wallet.hotkey.ss58_address] = name
        self.pointers[name] = self.net.publish(wallet, random_model(root / name, seed=seed), f"{name}/tiny")
        self.net.chain.advance(1)

    def next_round(self) -> tuple[int, dict[str, sqlite3.Row]]:
        self.net.chain.advance(self.net.interval - self.net.chain.block() % self.net.interval)
        block = self.net.chain.block()
        assert RoundRunner(self.services, sleep=self.round_sleeps.append).run(block)
        return block, self.states(block)

    def states(self, block: int) -> dict[str, sqlite3.Row]:
        return {self.names[r["hotkey"]]: r for r in self.services.state.round_models(block)}

    def pool(self, block: int) -> set[str]:
        return {self.names[h] for h, _ in self.services.state.pool_before(block + 1, COMPETITION)}

    def stored(self) -> set[str]:
        keys = {m.key for m in self.services.store.models()}
        return {n for n, p in self.pointers.items() if _key(p) in keys}

    def integrity(self) -> str:
        with sqlite3.connect(self.services.settings.state_path / "state.sqlite") as conn:
            return conn.execute("PRAGMA integrity_check").fetchone()[0]

    def no_partials(self) -> bool:
        return not any((self.services.store.root / "partial").iterdir())


def _key(pointer: str) -> str:
    from node.hub.store import model_key

    p = parse_pointer(pointer)
    return model_key(p.repo_id, p.commit)


def summary(rows: dict[str, sqlite3.Row]) -> dict[str, tuple[str, str | None]]:
    return {n: (r["state"], r["reason"]) for n, r in rows.items()}


@pytest.mark.parametrize("scale", SCALES)
def test_quota_evicts_older_models_and_enospc_fails_cleanly(tmp_path: Path, scale: str) -> None:
    require_assets()
    dn = DiskNet(tmp_path, tmp_path / "state", **{"store.max_bytes": str(int(1.5 * MODEL_MB * 2**20))})
    try:
        dn.publish("alice", 1, tmp_path)
        dn.publish("bob", 2, tmp_path)
        block, rows = dn.next_round()
        assert summary(rows) == {"alice": ("evaluated", None), "bob": ("evaluated", None)}
        assert len(dn.stored()) == 1  # the cap holds one model: the first was evicted for the second
        hub = dn.services.hub = FullDiskDuringDownload(dn.services.hub, enospc_after_partial_write)
        # in-round recovery: fewer failures than tries (every model must be downloaded again: one fits at a time)
        hub.times = 1 if scale == "short" else dn.services.settings.transient_retries - 1
        injected = hub.times
        block, rows = dn.next_round()
        assert summary(rows) == {"alice": ("evaluated", None), "bob": ("evaluated", None)}
        assert hub.times == 0 and dn.no_partials() and len(dn.stored()) == 1
        recovered = injected
        if scale == "full":  # a whole round of full disk for one model: failed, carried, no verdict; next round ok
            stored = dn.stored()
            hub.times = dn.services.settings.transient_retries
            hub.only = next(f"{n}/tiny" for n in ("alice", "bob") if n not in stored)
            injected += hub.times
            block, rows = dn.next_round()
            failed = [n for n, r in rows.items() if r["state"] == "failed"]
            assert len(failed) == 1 and rows[failed[0]]["reason"] == "store_full", summary(rows)
            assert stored == {n for n in rows if n not in failed}  # the stored one evaluated without a download
            assert dn.services.state.verdict(next(h for h, n in dn.names.items() if n == failed[0]),
                                             dn.pointers[failed[0]])["status"] == "ok"
            assert dn.pool(block) == {"alice", "bob"} and dn.no_partials()
            block, rows = dn.next_round()
            assert summary(rows) == {"alice": ("evaluated", None), "bob": ("evaluated", None)}
            recovered += dn.services.settings.transient_retries
        assert dn.services.state.count("hub_errors", "store_full") == injected
        assert dn.integrity() == "ok"
    finally:
        dn.services.close()
    record("disk", "quota_and_enospc", injected=injected, recovered=recovered, lost=0, double=0, scale=scale,
           models_stored=len(dn.stored()))


@pytest.fixture
def small_fs(tmp_path: Path):
    """A 64 MB tmpfs for the validator's state directory, or a skip saying why it cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or done.returncode}); the quota and "
                    "ENOSPC variants cover the store's side")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_leaving(folder: Path, headroom: int):
    """Another writer takes the disk's space as the download starts, leaving `headroom` bytes."""
    def fill(dest: Path) -> None:
        ballast = folder / "ballast"
        with open(ballast, "ab") as handle:
            try:
                while True:
                    handle.write(b"\0" * (1 << 20))
                    handle.flush()
            except OSError as err:
                assert err.errno == errno.ENOSPC
        os.truncate(ballast, max(ballast.stat().st_size - headroom, 0))
    return fill


@pytest.mark.parametrize("scale", SCALES)
def test_a_small_filesystem_fills_during_a_download(tmp_path: Path, small_fs: Path, scale: str) -> None:
    require_assets()
    dn = DiskNet(tmp_path, small_fs / "state")
    headrooms = [1 << 20] if scale == "short" else [1 << 20, 0]  # 0: the database cannot write either
    injected = recovered = evictions = 0
    outcomes: list[str] = []
    try:
        dn.publish("alice", 1, tmp_path)
        dn.publish("bob", 2, tmp_path)
        block, rows = dn.next_round()
        assert summary(rows) == {"alice": ("evaluated", None), "bob": ("evaluated", None)}
        for i, headroom in enumerate(headrooms):
            name = f"carol{i}"
            dn.publish(name, 10 + i, tmp_path)
            hub = dn.services.hub = FullDiskDuringDownload(dn.services.hub, fill_leaving(small_fs, headroom))
            hub.times = 1
            injected += 1
            before = dn.stored()
            full_errors = dn.services.state.count("hub_errors", "store_full")
            try:
                block, rows = dn.next_round()
                db_full = False
            except sqlite3.OperationalError as err:  # the database's disk is full too: the daemon retries the step
                assert headroom == 0 and "full" in str(err), err
                db_full = True
                block = dn.net.chain.block()
                assert dn.states(block)[name]["state"] == "running"  # claimed, its outcome unrecorded
                assert dn.integrity() == "ok"
                (small_fs / "ballast").unlink()  # space returns
                assert RoundRunner(dn.services, sleep=dn.round_sleeps.append).run(block)  # the daemon's next step
                rows = dn.states(block)
            # the failed write cost one try; the retries evicted the older models first, then either fitted or, with
            # the space still taken (the evaluation worker may still map evicted files), failed cleanly as store_full
            assert summary(rows)[name] in (("evaluated", None), ("failed", "store_full")), summary(rows)
            assert dn.services.state.verdict(next(h for h, n in dn.names.items() if n == name),
                                             dn.pointers[name]) is None or rows[name]["state"] == "evaluated"
            assert {"alice", "bob"} <= dn.pool(block)
            assert before - dn.stored(), (before, dn.stored())  # older models were evicted to make room
            evictions += len(before - dn.stored())
            if not db_full:
                assert dn.services.state.count("hub_errors", "store_full") >= full_errors + 1
            outcomes.append(rows[name]["state"])
            assert dn.no_partials() and dn.integrity() == "ok"
            (small_fs / "ballast").unlink(missing_ok=True)  # space returns
            block, rows = dn.next_round()
            assert {n: r["state"] for n, r in rows.items() if n in ("alice", "bob", name)} == {
                "alice": "evaluated", "bob": "evaluated", name: "evaluated"}
            assert dn.integrity() == "ok"
            recovered += 1
    finally:
        dn.services.close()
    record("disk", "small_filesystem", injected=injected, recovered=recovered, lost=0, double=0, scale=scale,
           evictions=evictions, failed_in_round=outcomes.count("failed"))
