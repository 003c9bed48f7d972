"""One validator round, as a sequence of committed steps: plan -> each model -> score -> weights -> done.

Every step reads the state it needs from the database and commits its result in one transaction, so the
round can be resumed from any point by calling `run(block)` again (after `StateStore.sweep`). The round is
pinned to its anchor block: the chain reads, the seed, the samples and the competitions document in force
are fixed when it is planned and stored with it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from node.chain.types import Commitment
from node.competitions import Competition, Competitions, parse_competitions
from node.competitions.limits import model_limits
from node.data import CorpusSource, Sample, seed_from_block_hash
from node.data.tokenizer_files import competition_tokenizer_path
from node.evaluation import EvalSettings
from node.identity import parse_pointer, read_pointer, sha256_file
from node.refusal import RefusalKind, Refused
from node.verify import fetch_and_verify
from validator import faultpoints, progress
from validator import lineage as lineage_check
from validator.evaluate import RoundEvaluator, policy_key
from validator.score import ScoredModel, score_round
from validator.select import Candidate, History, network_favourites, select
from validator.services import Services
from validator.state import PlannedModel, Rejection, StaleTransition, Verdict
from validator.sync import read_round_view
from validator.weights import uid_weights

log = logging.getLogger(__name__)

# Failures retried within the round and never stored as a verdict on the model: the validator's surroundings
# (hub down, disk full), or bytes that arrived wrong (a dropped connection, a corrupted transfer), which a
# fresh download can fix. A wrong hash computed from the hub's own metadata is the commitment's fault instead.
RETRY_KINDS = frozenset({RefusalKind.HUB_UNAVAILABLE, RefusalKind.STORE_FULL, RefusalKind.INTEGRITY,
                         RefusalKind.INTERNAL_ERROR})


def document_json(competitions: Competitions) -> str:
    """The document in force, in the shape `parse_competitions` reads back (defaults explicit), stored per round."""
    doc: dict[str, object] = {cid: c.to_dict() for cid, c in competitions.entries.items()}
    doc["hall_of_fame"] = competitions.hall_of_fame.to_dict()
    return json.dumps(doc, sort_keys=True)


@dataclass
class RoundContext:
    """What a planned round fixes, loaded from its row (the same after a restart)."""

    block: int
    seed: int
    competitions: Competitions
    metagraph: dict[str, int]
    my_uid: int | None
    samples: dict[str, list[Sample]] = field(default_factory=dict)


class RoundRunner:
    """Runs (or resumes) rounds with the services wired in `validator.services`."""

    def __init__(self, services: Services, stop_requested: Callable[[], bool] = lambda: False,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.s = services
        self.stop_requested = stop_requested
        self._sleep = sleep  # the backoff between passes over models waiting on transient failures
        self.evaluator = RoundEvaluator(
            services.state, services.worker, timeout_s=services.settings.eval_timeout_s,
            spot_fraction=services.settings.spot_check_fraction, spot_max=services.settings.spot_check_max,
            tolerance=services.settings.spot_check_tolerance,
        )
        self._tokenizer_sha: dict[str, str | None] = {}

    # -- the round -------------------------------------------------------------------------------------

    def run(self, block: int) -> bool:
        """Take round `block` as far as it goes; True when it is done (False: stopped early)."""
        state = self.s.state
        if state.round(block) is None:
            self.plan(block)
        ctx = self.context(block)
        row = state.round(block)
        if row["state"] == "evaluating":
            started = time.perf_counter()
            if not self.evaluate_models(ctx):
                return False
            self.score(ctx)
            log.info("round %d: models done in %.1f s", block, time.perf_counter() - started)
        row = state.round(block)
        if row["state"] == "scored":
            self.set_weights(ctx)
            faultpoints.reached("done")
            state.finish_round(block)
            log.info("round %d: done", block)
        return True

    def plan(self, block: int) -> None:
        """Read the chain at `block`, choose models and samples, and commit the plan."""
        state, settings = self.s.state, self.s.settings
        known = {h: Commitment(h, r["data"], int(r["commit_block"]), r["uid"]) for h, r in
                 state.known_pointers().items()}
        view = read_round_view(self.s.chain, block, known, my_uid=self._my_uid_hint(),
                               on_error=lambda kind: state.note_error("chain_errors", kind))
        competitions = self.s.competitions.current()
        seed = seed_from_block_hash(view.block_hash)
        rejections: list[Rejection] = []
        candidates: dict[str, list[Candidate]] = {cid: [] for cid in competitions.entries}
        for hotkey, commitment in sorted(view.commitments.items()):
            uid = view.metagraph.uid_of(hotkey)
            if uid is None:
                continue
            parsed = read_pointer(commitment.data)
            if not parsed.ok:
                rejections.append(Rejection(hotkey, commitment.data, RefusalKind.BAD_POINTER.value, parsed.reason))
                continue
            pointer = parsed.pointer
            if pointer.competition not in competitions.entries:
                rejections.append(Rejection(hotkey, commitment.data, RefusalKind.UNKNOWN_COMPETITION.value,
                                            f"competition {pointer.competition!r} is not in the current document"))
                continue
            candidates[pointer.competition].append(
                Candidate(hotkey, uid, pointer.format(), commitment.block, pointer.competition))
        history = self._history()
        favourites = network_favourites(view.other_weights, view.metagraph)
        models: list[PlannedModel] = []
        samples: dict[str, list[str]] = {}
        for cid, competition in sorted(competitions.entries.items()):
            limit = settings.round_max_models or competition.pool_size + competition.pend_size
            pool = [tuple(p) for p in state.pool_before(block, cid)]
            chosen = select(candidates[cid], History(pool, history.refused, history.discarded, (),
                                                     history.last_evaluated),
                            favourites=favourites, limit=limit, pend_size=competition.pend_size,
                            round_block=block, revisit_every=settings.revisit_rounds * settings.round_interval_blocks)
            models += [PlannedModel(c.hotkey, c.uid, cid, c.pointer, c.commit_block, role) for c, role in chosen]
            samples[cid] = [s.id for s in self._source(competition).samples(seed, settings.samples_per_round)]
        my_uid = view.metagraph.uid_of(self.s.hotkey)
        pointers = {h: (c.data, c.block, view.metagraph.uid_of(h)) for h, c in view.commitments.items()}
        faultpoints.reached("plan")
        state.plan_round(block, view.block_hash, seed, document_json(competitions),
                         competitions.sha256, {n.hotkey: n.uid for n in view.metagraph.neurons}, my_uid, models,
                         samples, rejections, "; ".join(view.notes), pointers)
        log.info("round %d planned: seed %d, %d models, %d refused pointers%s", block, seed, len(models),
                 len(rejections), f" ({'; '.join(view.notes)})" if view.notes else "")

    def context(self, block: int) -> RoundContext:
        row = self.s.state.round(block)
        competitions = parse_competitions(json.loads(row["competitions_json"]))
        ctx = RoundContext(block, int(row["seed"]), competitions, json.loads(row["metagraph_json"]), row["my_uid"])
        for cid, competition in competitions.entries.items():
            ids = self.s.state.round_samples(block, cid)
            source = self._source(competition)
            picked = {s.id: s for s in source.samples(ctx.seed, len(ids))} if ids else {}
            missing = [i for i in ids if i not in picked]
            if missing:
                raise RuntimeError(f"round {block}: samples {missing[:3]} of {cid} are no longer in the data source")
            ctx.samples[cid] = [picked[i] for i in ids]
        return ctx

    # -- models ----------------------------------------------------------------------------------------

    def evaluate_models(self, ctx: RoundContext) -> bool:
        """Process every pending model; transient failures are retried with backoff. False if stopped.

        A model this round left `running` can only come from an earlier pass in this process that could not
        record its outcome (the database's disk was full, say; one daemon per state directory holds the lock):
        it goes back to pending first, so it is tried again instead of silently missing from the scores."""
        state = self.s.state
        returned = state.sweep(ctx.block)
        if returned:
            log.warning("round %d: %d models left running by an unrecorded failure are pending again", ctx.block,
                        returned)
        wait = 2.0
        while True:
            pending = state.round_models(ctx.block, ["pending"])
            if not pending:
                return True
            progressed = False
            for index, row in enumerate(pending, 1):
                if self.stop_requested():
                    return False
                with progress.step(f"round {ctx.block}: model {index}/{len(pending)} {row['pointer']}",
                                   round=ctx.block, hotkey=row["hotkey"]):  # spinner on a terminal; log fields
                    outcome = self.process_safely(ctx, row)
                progressed |= outcome != "retry"
            if not progressed:
                if self.stop_requested():  # an interrupted model is a "retry" too: stop now, not after the backoff
                    return False
                log.info("round %d: %d models waiting on transient failures; retrying in %.0f s", ctx.block,
                         len(pending), wait)
                self._sleep(wait)
                wait = min(wait * 2, 60.0)
                if self.stop_requested():
                    return False

    def process_safely(self, ctx: RoundContext, row) -> str:
        """`process`, except that an unexpected error costs one try of one model, never the daemon."""
        try:
            return self.process(ctx, row)
        except StaleTransition:
            raise
        except Exception as err:  # a bug, a full disk, a locked database: logged, retried, then given up
            log.exception("round %d: unexpected error on %s", ctx.block, row["hotkey"])
            refusal = Refused(RefusalKind.INTERNAL_ERROR, f"{type(err).__name__}: {err}")
            current = {r["hotkey"]: r for r in self.s.state.round_models(ctx.block)}.get(row["hotkey"])
            if current is not None and current["state"] == "running":
                return self._refused(ctx, row, refusal)  # `row` holds the attempts before this claim
            return "retry"

    def process(self, ctx: RoundContext, row) -> str:
        """One model from pending to a final state (or back to pending: "retry")."""
        state, settings = self.s.state, self.s.settings
        block, hotkey = ctx.block, row["hotkey"]
        state.claim_model(block, hotkey)
        competition: Competition = ctx.competitions.entries[row["competition"]]
        pointer = parse_pointer(row["pointer"])
        cached = state.verdict(hotkey, row["pointer"])
        if cached is not None and cached["status"] == "refused":
            state.finish_model(block, hotkey, "rejected", reason=cached["reason"], message=cached["message"],
                               content_hash=cached["content_hash"])
            return "rejected"
        dtype = competition.eval_dtype_for(settings.device)
        limits = model_limits(competition, dtype)
        faultpoints.reached("download")
        try:
            verified = fetch_and_verify(self.s.hub, self.s.store, pointer, hotkey, competition, limits,
                                        timeout_s=settings.download_timeout_s)
        except Refused as refusal:
            return self._refused(ctx, row, refusal)
        try:
            verdict = self._verdict(hotkey, row["pointer"], verified, cached)
            policy = competition.tokenizer_policy()
            pkey = policy_key(policy, self._competition_tokenizer_sha(policy.tokenizer))
            eval_settings = EvalSettings(dtype=dtype, device=settings.device,
                                         memory_fraction=settings.eval_memory_fraction,
                                         resident_bytes=self._resident_bytes())
            faultpoints.reached("evaluate")
            try:
                result = self.evaluator.losses(str(verified.path), verified.content_hash, ctx.samples[competition.id],
                                               policy, pkey, eval_settings, ctx.seed,
                                               check_finite=cached is None or cached["status"] != "ok")
            except Refused as refusal:
                if self.stop_requested():
                    state.release_model(block, hotkey, refusal.kind.value, "interrupted by shutdown")
                    return "retry"
                kind = refusal.kind
                state.finish_model(block, hotkey, "failed", reason=kind.value, message=refusal.message,
                                   content_hash=verified.content_hash, verdict=verdict)
                log.warning("round %d: %s failed evaluation: %s", block, hotkey, refusal)
                return "failed"
            faultpoints.reached("commit")
            state.finish_model(
                block, hotkey, "evaluated", content_hash=verified.content_hash, verdict=verdict,
                losses=(pkey, dtype, result.new_rows), drop_cache=(pkey, dtype) if result.drift else None,
                eval_seconds=result.seconds, evaluated_samples=result.evaluated, cached_samples=result.cached,
                drift=result.drift,
            )
            log.info("round %d: %s evaluated (%d samples, %d cached%s, %.1f s)", block, hotkey, result.evaluated,
                     result.cached, ", cache drift: re-evaluated" if result.drift else "", result.seconds)
            return "evaluated"
        finally:
            verified.lease.release()

    def _refused(self, ctx: RoundContext, row, refusal: Refused) -> str:
        state, block, hotkey = self.s.state, ctx.block, row["hotkey"]
        if refusal.kind in RETRY_KINDS:
            state.note_error("hub_errors", refusal.kind.value)
            tries = self.s.settings.transient_retries
            if row["attempts"] + 1 < tries:
                log.warning("round %d: %s try %d/%d: %s (retried)", block, hotkey, row["attempts"] + 1, tries, refusal)
                state.release_model(block, hotkey, refusal.kind.value, refusal.message)
                return "retry"
            log.warning("round %d: %s failed after %d tries, not held against it: %s", block, hotkey, tries, refusal)
            state.finish_model(block, hotkey, "failed", reason=refusal.kind.value, message=refusal.message)
            return "failed"
        verdict = Verdict(hotkey, row["pointer"], "refused", refusal.kind.value, refusal.message)
        state.finish_model(block, hotkey, "rejected", reason=refusal.kind.value, message=refusal.message,
                           verdict=verdict)
        log.warning("round %d: %s refused: %s", block, hotkey, refusal)
        return "rejected"

    def _verdict(self, hotkey: str, pointer: str, verified, cached) -> Verdict:
        lineage, parent, message = ("none", None, "")
        if cached is not None and cached["status"] == "ok":
            lineage, parent, message = cached["lineage"], cached["lineage_parent"], cached["lineage_message"]
        elif self.s.settings.lineage:
            lineage, parent, message = lineage_check.certify(self.s, verified.path)
        return Verdict(hotkey, pointer, "ok", None, "", verified.content_hash, verified.checked.parameters,
                       verified.checked.total_bytes, lineage, parent, message)

    # -- scoring and weights ---------------------------------------------------------------------------

    def score(self, ctx: RoundContext) -> None:
        state, settings = self.s.state, self.s.settings
        models: dict[str, list[ScoredModel]] = {cid: [] for cid in ctx.competitions.entries}
        for row in state.round_models(ctx.block, ["evaluated"]):
            competition = ctx.competitions.entries[row["competition"]]
            policy = competition.tokenizer_policy()
            pkey = policy_key(policy, self._competition_tokenizer_sha(policy.tokenizer))
            ids = [s.id for s in ctx.samples[competition.id]]
            cached = state.cached_losses(row["content_hash"], pkey, competition.eval_dtype_for(settings.device), ids)
            missing = [i for i in ids if i not in cached]
            if missing:  # a later round's drift cannot delete what this round stored: it is in one transaction
                raise RuntimeError(f"round {ctx.block}: {row['hotkey']} lacks losses for {len(missing)} samples")
            models[competition.id].append(ScoredModel(
                row["hotkey"], row["uid"], row["pointer"], int(row["commit_block"]), row["content_hash"],
                [cached[i].loss for i in ids], [cached[i].tokens for i in ids]))
        carried: dict[str, list[tuple[str, str]]] = {}
        transient = {kind.value for kind in RETRY_KINDS}
        failed = {(r["hotkey"], r["pointer"]) for r in state.round_models(ctx.block, ["failed"])
                  if r["reason"] in transient}
        for cid in ctx.competitions.entries:
            carried[cid] = [p for p in state.pool_before(ctx.block, cid) if tuple(p) in failed]
        outcome = score_round(
            ctx.competitions.entries, models, ctx.block, ctx.seed, state.latest_ema_before(ctx.block),
            registered=set(ctx.metagraph), alpha=settings.ema_alpha,
            bonus_entries=ctx.competitions.hall_of_fame.entries,
            max_bonus_share=ctx.competitions.hall_of_fame.max_share, carried=carried,
        )
        faultpoints.reached("score")
        state.score_round(ctx.block, outcome.results, outcome.ema, outcome.pools, outcome.duplicates,
                          outcome.discarded)
        for result in sorted(outcome.results, key=lambda r: -r.weight):
            log.info("round %d: %s %s win rate %.3f weight %.3f loss/token %s", ctx.block, result.competition,
                     result.hotkey[:10], result.win_rate, result.weight,
                     "n/a" if result.mean_loss is None else f"{result.mean_loss:.4f}")

    def set_weights(self, ctx: RoundContext) -> None:
        from node.chain.types import Metagraph, Neuron

        ema = self.s.state.ema(ctx.block)
        metagraph = Metagraph(0, ctx.block, tuple(Neuron(uid, h, 0.0, False, 0) for h, uid in ctx.metagraph.items()))
        weights = uid_weights(ema, metagraph)
        try:
            self.s.weights.handle(ctx.block, weights, ctx.my_uid)
        except StaleTransition:
            pass

    # -- helpers ---------------------------------------------------------------------------------------

    def _resident_bytes(self) -> int:
        """How much of RAM the worker may keep as loaded models between rounds (CPU only: a GPU reloads fast)."""
        if self.s.settings.device.startswith("cuda"):
            return 0
        import psutil

        return int(psutil.virtual_memory().total * self.s.settings.eval_resident_fraction)

    def _history(self) -> History:
        refused = set()
        for v in self.s.state.verdicts():
            if v["status"] == "refused":
                refused.add((v["hotkey"], v["pointer"]))
        return History((), refused, self.s.state.discarded(), (), self.s.state.last_evaluated())

    def _my_uid_hint(self) -> int | None:
        last = self.s.state.last_round(("evaluating", "scored", "done"))
        return None if last is None else last["my_uid"]

    def _source(self, competition: Competition):
        if competition.dataset == "corpus":
            if self.s.corpus is None:
                self.s.corpus = CorpusSource(part="heldout")
            return self.s.corpus
        if competition.dataset == "fineweb":
            return self.s.fineweb()
        raise Refused(RefusalKind.UNKNOWN_COMPETITION, f"unknown dataset {competition.dataset!r}")

    def _competition_tokenizer_sha(self, tokenizer: object) -> str | None:
        if tokenizer is None:
            return None
        key = str(tokenizer)
        if key not in self._tokenizer_sha:
            self._tokenizer_sha[key] = sha256_file(competition_tokenizer_path(key))
        return self._tokenizer_sha[key]

