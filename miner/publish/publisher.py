"""One publish, as idempotent steps: check -> evaluate -> upload -> hash check -> commit -> read back.

Each step's result is saved in the state file (`miner.publish.state`) right after it happens, and on a rerun
every recorded step is re-verified before it is skipped. Two steps have side effects, and both look at the
world first, so a process killed between the side effect and the save does not repeat it:

* upload: a revision of the repository that already holds exactly these files is reused (the directory
  hub's ids are content-addressed; on the Hugging Face Hub the newest revision is compared);
* commit: when the hotkey's commitment already equals the pointer, nothing is committed.

A run that finds the hotkey's current commitment pointing at a revision of this repository with exactly
these files (same hotkey-bound hash) reports "already published" and does nothing else.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from node.chain import Chain
from node.competitions import Competition, Competitions
from node.competitions.limits import model_limits
from node.data import CorpusSource, seed_from_block_hash
from node.evaluation import EvalSettings
from node.hub import ModelHub, RevisionNotFoundError
from node.hub.fsutil import write_atomic
from node.hub.store import ModelStore
from node.identity import (
    ModelPointer,
    digests_from_folder,
    dir_hash,
    model_hash,
    parse_pointer,
    read_pointer,
    split_repo_id,
)
from node.paths import cache_dir
from node.refusal import Refused
from node.worker import IsolatedWorker

from .best import fetch_best, ranked_candidates
from .compare import Comparison, decide, evaluate
from .revisions import existing_revision, metadata_hash, same_files
from .state import PublishKey, PublishState, StateFile, default_state_path

LINEAGE_FILE = "lineage.json"  # the validator reads it (validator.lineage); it is a model file, so hashed


class PublishKind(StrEnum):
    """Why a publish stopped, for the steps that are the miner's own (model refusals keep `RefusalKind`)."""

    NOT_BETTER = "not_better"  # does not beat the current best by more than the advantage margin
    NOT_REGISTERED = "not_registered"  # the hotkey is not registered on the subnet
    UPLOAD_MISMATCH = "upload_mismatch"  # the uploaded revision's metadata does not hash to the local files
    READBACK_MISMATCH = "readback_mismatch"  # the chain's commitment is not the pointer after committing


class PublishError(Exception):
    """A publish that stopped (exit code 1), with a stable `kind` (a `PublishKind` or `RefusalKind` value)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = str(kind)
        self.message = message


@dataclass(frozen=True)
class PublishSettings:
    model_dir: Path
    repo_id: str
    competition: str
    samples: int = 64
    device: str = "cpu"
    force: bool = False
    parent: str | None = None
    state_path: Path | None = None
    store_dir: Path | None = None  # where the current best model is downloaded (default <cache>/miner/models)
    eval_timeout_s: float = 1800.0
    download_timeout_s: float = 1800.0
    readback_timeout_s: float = 120.0
    readback_poll_s: float = 2.0

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError("--samples must be at least 1")
        split_repo_id(self.repo_id)  # PointerError (a ValueError) for a bad NAMESPACE/NAME
        if self.parent is not None:
            parse_pointer(self.parent)


@dataclass(frozen=True)
class PublishResult:
    pointer: str
    revision: str
    block: int
    comparison: Comparison | None  # None when the model was already published
    already_published: bool = False


def write_lineage(model_dir: Path, parent: str) -> bool:
    """Write `lineage.json` naming `parent` (canonical spelling); True if the file changed."""
    data = json.dumps({"parent": parse_pointer(parent).format()}).encode()
    path = Path(model_dir) / LINEAGE_FILE
    if path.is_file() and not path.is_symlink() and path.read_bytes() == data:
        return False
    write_atomic(path, data)
    return True


class Publisher:
    """Runs one publish against opened boundaries (so tests can hand in any chain and hub)."""

    def __init__(self, settings: PublishSettings, chain: Chain, hub: ModelHub, wallet, competitions: Competitions,
                 *, say: Callable[[str], None] = print, after_step: Callable[[str], None] | None = None,
                 sample_source=None) -> None:
        self.s = settings
        self.chain = chain
        self.hub = hub
        self.wallet = wallet
        self.hotkey: str = wallet.hotkey.ss58_address
        competition = competitions.get(settings.competition)
        if competition is None:
            raise ValueError(f"competition {settings.competition!r} is not in the competitions document "
                             f"(it has: {', '.join(competitions.ids)})")
        self.competition: Competition = competition
        self.say = say
        self.after_step = after_step or (lambda step: None)  # test hook: called right after a side effect
        self._source = sample_source
        self.folder = Path(settings.model_dir).resolve()
        self.namespace, self.name = split_repo_id(settings.repo_id)

    # -- the publish -----------------------------------------------------------------------------------

    def run(self) -> PublishResult:
        if not self.folder.is_dir():
            raise FileNotFoundError(f"model folder {self.folder} does not exist")
        if self.s.parent is not None and write_lineage(self.folder, self.s.parent):
            self.say(f"wrote {LINEAGE_FILE}: parent {self.s.parent}")
        digests = digests_from_folder(self.folder)
        self.digests = digests
        self.hash = model_hash(digests, self.hotkey)
        key = PublishKey(dir_hash(digests), self.hotkey, self.s.repo_id, self.competition.id)
        self.files = StateFile(self.s.state_path or default_state_path(self.folder))
        state, note = self.files.load(key)
        if note:
            self.say(note)
        done = self._already_published(state)
        if done is not None:
            return done
        self._check(state)
        comparison = self._evaluate(state)
        revision = self._upload(state)
        self._check_uploaded(revision)
        pointer = ModelPointer(self.namespace, self.name, revision, self.hash, self.competition.id).format()
        block = self._commit(state, pointer)
        self._read_back(state, pointer)
        self.say(f"published {pointer} at block {block}")
        return PublishResult(pointer, revision, block, comparison)

    def _save(self, state: PublishState, step: str, **result) -> None:
        state.record(step, **result)
        self.files.save(state)

    def _already_published(self, state: PublishState) -> PublishResult | None:
        """The hotkey's commitment already points at these files in this repo: nothing to do."""
        current = self.chain.commitment(self.hotkey)
        parsed = read_pointer(current.data) if current is not None else None
        if parsed is None or not parsed.ok:
            return None
        pointer = parsed.pointer
        if (pointer.repo_id, pointer.hash, pointer.competition) != (self.s.repo_id, self.hash, self.competition.id):
            return None
        try:
            info = self.hub.revision_info(pointer.repo_id, pointer.commit)
        except RevisionNotFoundError:
            return None
        if not same_files(info, self.folder, self.digests):
            return None
        self._save(state, "committed", pointer=pointer.format(), block=current.block)
        self._save(state, "verified", pointer=pointer.format())
        self.say(f"already published: {pointer.format()} (committed at block {current.block}); nothing to do")
        return PublishResult(pointer.format(), pointer.commit, current.block, None, already_published=True)

    # -- steps -----------------------------------------------------------------------------------------

    def _dtype(self) -> str:
        return self.competition.eval_dtype_for(self.s.device)

    def _check(self, state: PublishState) -> None:
        """The validator's gate with the competition's limits (metadata only: cheap, so always re-run)."""
        if self.chain.metagraph().neuron(self.hotkey) is None:
            raise PublishError(PublishKind.NOT_REGISTERED,
                               f"hotkey {self.hotkey} is not registered on subnet {self.chain.netuid}")
        from node.gate import check_model_dir

        checked = check_model_dir(self.folder, model_limits(self.competition, self._dtype()))
        self.say(f"checked: {checked.architecture}, {checked.parameters:,} parameters, {checked.total_bytes:,} bytes "
                 f"(limits: {self.competition.parameters:,} parameters, {self.competition.model_size:,} bytes)")
        self._save(state, "checked", parameters=checked.parameters, total_bytes=checked.total_bytes)

    def _evaluate(self, state: PublishState) -> Comparison:
        previous = state.done("evaluated")
        if previous is not None and (previous["wins"] or previous.get("forced")):
            comparison = Comparison(**previous["comparison"])
            ranked = ranked_candidates(self.chain, self.competition.id)
            if comparison.best_pointer == (ranked[0].pointer.format() if ranked else None):
                self.say(f"evaluation reused from the state file: {comparison.summary()}")
                return comparison
            self.say("the network's best model changed since the recorded evaluation: evaluating again")
        comparison = self._compare()
        self.say(comparison.summary())
        forced = not comparison.wins and self.s.force
        if not comparison.wins and not forced:
            self._save(state, "evaluated", comparison=comparison.to_dict(), wins=False, forced=False)
            raise PublishError(PublishKind.NOT_BETTER, comparison.summary() + "; use --force to publish anyway")
        if forced:
            self.say("--force: publishing although the model does not beat the best")
        self._save(state, "evaluated", comparison=comparison.to_dict(), wins=comparison.wins, forced=forced)
        return comparison

    def _sample_source(self):
        if self._source is None:
            if self.competition.dataset == "corpus":
                self._source = CorpusSource(part="heldout")
            else:  # "fineweb": the only other dataset the schema accepts
                from node.data import FineWebSource, SampleCache, default_cache_path

                self._source = FineWebSource(None, SampleCache(default_cache_path()))
        return self._source

    def _compare(self) -> Comparison:
        competition, dtype = self.competition, self._dtype()
        block = self.chain.block()
        seed = seed_from_block_hash(self.chain.block_hash(block))
        samples = self._sample_source().samples(seed, self.s.samples)
        settings = EvalSettings(dtype=dtype, device=self.s.device)
        self.say(f"evaluating on {len(samples)} held-out samples (block {block}, {dtype} on {self.s.device})")
        with IsolatedWorker() as worker:
            # The candidate first: a model a validator would refuse stops here, before the best is downloaded.
            mine = evaluate(worker, str(self.folder), samples, competition, settings, self.s.eval_timeout_s)
            store = ModelStore(self.s.store_dir or cache_dir() / "miner" / "models",
                               max_bytes=3 * competition.model_size)
            best = fetch_best(self.chain, self.hub, store, competition, model_limits(competition, dtype),
                              timeout_s=self.s.download_timeout_s, say=self.say)
            if best is None:
                return decide(mine, None, competition=competition, block=block, seed=seed)
            candidate, verified = best
            self.say(f"against {candidate.hotkey}'s {candidate.pointer.format()} (the network's best)")
            try:
                theirs = evaluate(worker, str(verified.path), samples, competition, settings, self.s.eval_timeout_s)
            except Refused as refusal:
                if refusal.kind.transient:
                    raise
                # A validator fails it too, so it scores nothing: there is no comparable best this round.
                self.say(f"the best model fails evaluation ({refusal}); nothing comparable to beat")
                return decide(mine, None, competition=competition, block=block, seed=seed)
            finally:
                verified.lease.release()
        return decide(mine, theirs, competition=competition, block=block, seed=seed,
                      best_pointer=candidate.pointer.format(), best_commit_block=candidate.commit_block)

    def _upload(self, state: PublishState) -> str:
        previous = state.done("uploaded")
        if previous is not None:
            try:
                if same_files(self.hub.revision_info(self.s.repo_id, previous["revision"]), self.folder, self.digests):
                    self.say(f"upload done earlier: {self.s.repo_id}@{previous['revision']}")
                    return previous["revision"]
            except RevisionNotFoundError:
                pass
            self.say(f"the recorded revision {previous['revision']} no longer holds these files; uploading again")
        revision = existing_revision(self.hub, self.s.repo_id, self.folder, self.digests)
        if revision is not None:
            self.say(f"{self.s.repo_id}@{revision} already holds exactly these files; not uploading again")
        else:
            revision = self.hub.upload(self.s.repo_id, self.folder, message=f"sn29 {self.competition.id} model")
            self.say(f"uploaded {self.s.repo_id}@{revision}")
            self.after_step("uploaded")
        self._save(state, "uploaded", revision=revision)
        return revision

    def _check_uploaded(self, revision: str) -> None:
        """The hotkey-bound hash from the uploaded revision's metadata must equal the local files' hash."""
        info, remote = metadata_hash(self.hub, self.s.repo_id, revision, self.hotkey)
        if remote != self.hash or not same_files(info, self.folder, self.digests):
            raise PublishError(PublishKind.UPLOAD_MISMATCH,
                               f"{self.s.repo_id}@{revision} hashes to {remote}, the local files to {self.hash}")
        self.say(f"hash from the hub's metadata matches the local files: {self.hash}")

    def _commit(self, state: PublishState, pointer: str) -> int:
        current = self.chain.commitment(self.hotkey)
        if current is not None and current.data == pointer:
            self.say(f"the chain already holds this pointer (block {current.block}); not committing again")
            block = current.block
        else:
            block = self.chain.commit(self.wallet, pointer)
            self.say(f"committed {pointer} (block {block})")
            self.after_step("committed")
        self._save(state, "committed", pointer=pointer, block=block)
        return block

    def _read_back(self, state: PublishState, pointer: str) -> None:
        """Read the commitment back (a real chain shows it once the block is final) and parse it strictly."""
        deadline = time.monotonic() + self.s.readback_timeout_s
        while True:
            current = self.chain.commitment(self.hotkey)
            seen = None if current is None else current.data
            if seen == pointer:
                parsed = read_pointer(seen)
                if not parsed.ok or parsed.pointer.format() != pointer:
                    raise PublishError(PublishKind.READBACK_MISMATCH, f"the commitment does not parse: {parsed.reason}")
                self._save(state, "verified", pointer=pointer)
                self.say("read back from the chain: the commitment is the pointer")
                return
            if time.monotonic() >= deadline:
                raise PublishError(PublishKind.READBACK_MISMATCH,
                                   f"after {self.s.readback_timeout_s:g} s the chain shows {seen!r}, not {pointer!r}")
            time.sleep(self.s.readback_poll_s)
