"""`python -m miner status`: my commitment, how the validators weight it, and the best model of each competition.

Read from the chain (commitments, metagraph, the validators' weight rows) and the hub (does the committed
revision exist, and do its files hash to the committed, hotkey-bound hash). A validator's weight row is a
distribution over uids; a uid's *network weight* is the stake-weighted mean of those rows over the validators
that have one, the quantity the chain's consensus builds on. The best model of a competition is the committed
model with the highest network weight. Losses are not on the chain: they come from a validator's state database
when `--state.dir` names one, and are otherwise reported as unknown rather than guessed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from node import display, sqlite
from node.chain import ChainError, open_chain
from node.chain.paths import CHAIN_ENV
from node.chain.ranking import network_scores
from node.chain.types import Metagraph
from node.hub import open_hub
from node.hub.errors import HubError
from node.identity import read_pointer

NO_STATE = "unknown (no validator state)"


@dataclass(frozen=True)
class ValidatorView:
    uid: int
    hotkey: str
    stake: float
    weight_on_me: float  # this validator's row entry for my uid (0 when absent)


@dataclass(frozen=True)
class BestModel:
    competition: str
    uid: int
    hotkey: str
    pointer: str
    network_weight: float
    loss: float | None  # nats per token, from a validator's state database
    loss_note: str  # where the loss came from, or why it is unknown


@dataclass
class MinerStatus:
    hotkey: str
    uid: int | None
    commitment: str | None
    commit_block: int | None
    pointer_problem: str | None  # why the commitment is not a valid pointer
    hub: str  # what the hub says about the committed revision
    network_weight: float | None
    validators: list[ValidatorView] = field(default_factory=list)
    best: list[BestModel] = field(default_factory=list)


def network_weights(rows: dict[int, dict[int, float]], metagraph: Metagraph) -> dict[int, float]:
    """`{uid: stake-weighted mean weight}` over the validators that set a row: `node.chain.ranking.network_scores`
    divided by those validators' total stake (rows sum to 1, so these do too)."""
    stake = {n.uid: max(n.stake, 0.0) for n in metagraph.neurons}
    total = sum(stake.get(v, 0.0) for v in rows)
    if total <= 0:
        return {}
    return {metagraph.uid_of(h): score / total for h, score in network_scores(rows, metagraph).items()}


def hub_check(hub, pointer, hotkey: str) -> str:
    """`found, N files, B bytes, hash matches` or the reason it does not."""
    try:
        info = hub.revision_info(pointer.repo_id, pointer.commit)
    except HubError as err:
        return f"{type(err).__name__}: {err}"
    text = f"found, {len(info.files)} files, {info.total_size} bytes"
    if not info.complete_digests:
        return text + ", hash not checkable from metadata"
    return text + (", hash matches" if info.model_hash(hotkey) == pointer.hash else
                   ", HASH MISMATCH: validators will refuse it (hash_mismatch)")


def validator_loss(state_dir: str | None, hotkey: str, pointer: str) -> tuple[float | None, str]:
    """The newest loss per token a validator's state database holds for this exact (hotkey, pointer).

    The database is read as a file (its tables are documented in the validator's `state/schema.py`); the miner
    does not import the validator.
    """
    path = Path(state_dir).expanduser() / "state.sqlite" if state_dir else None
    if path is None or not path.is_file():
        return None, NO_STATE
    conn = sqlite.connect(path)
    try:
        row = conn.execute(
            "SELECT r.round_block, r.mean_loss FROM results r JOIN round_models m ON m.round_block = r.round_block "
            "AND m.hotkey = r.hotkey WHERE r.hotkey = ? AND m.pointer = ? AND r.mean_loss IS NOT NULL "
            "ORDER BY r.round_block DESC LIMIT 1", (hotkey, pointer)).fetchone()
    finally:
        conn.close()
    if row is None:
        return None, "unknown (not scored by this validator)"
    return float(row["mean_loss"]), f"validator state, round {row['round_block']}"


def read_status(chain, hub, hotkey: str, state_dir: str | None = None) -> MinerStatus:
    metagraph = chain.metagraph()
    commitments = chain.commitments()
    rows = chain.weights()
    weights = network_weights(rows, metagraph)
    uid = metagraph.uid_of(hotkey)
    mine = commitments.get(hotkey)
    problem, hub_text = None, "no commitment"
    if mine is not None:
        parsed = read_pointer(mine.data)
        problem = parsed.reason
        hub_text = hub_check(hub, parsed.pointer, hotkey) if parsed.ok else "not checked (not a valid pointer)"
    by_uid = {n.uid: n for n in metagraph.neurons}
    validators = [ValidatorView(v, by_uid[v].hotkey if v in by_uid else "?", by_uid[v].stake if v in by_uid else 0.0,
                                row.get(uid, 0.0) if uid is not None else 0.0) for v, row in sorted(rows.items())]
    best: dict[str, tuple[float, int, str, int]] = {}
    for other, commitment in commitments.items():
        parsed = read_pointer(commitment.data)
        other_uid = metagraph.uid_of(other)
        if not parsed.ok or other_uid is None:
            continue
        key = (weights.get(other_uid, 0.0), -commitment.block)
        held = best.get(parsed.pointer.competition)
        if held is None or key > (held[0], -held[3]):
            best[parsed.pointer.competition] = (key[0], other_uid, other, commitment.block)
    best_models = []
    for competition, (weight, best_uid, best_hotkey, _) in sorted(best.items()):
        pointer = commitments[best_hotkey].data
        loss, note = validator_loss(state_dir, best_hotkey, pointer)
        best_models.append(BestModel(competition, best_uid, best_hotkey, pointer, weight, loss, note))
    return MinerStatus(hotkey, uid, None if mine is None else mine.data, None if mine is None else mine.block,
                       problem, hub_text, None if uid is None else weights.get(uid, 0.0), validators, best_models)


def render(status: MinerStatus, out) -> None:
    from rich.console import Console
    from rich.table import Table


    console = Console(file=out, width=None if out.isatty() else 160, highlight=False)
    console.print(f"[bold]miner[/bold] {status.hotkey}  uid {'not registered' if status.uid is None else status.uid}")
    if status.commitment is None:
        console.print("commitment: none")
    else:
        console.print(f"commitment (block {status.commit_block}): {status.commitment}")
        if status.pointer_problem:
            console.print(f"  not a valid pointer: {status.pointer_problem}")
        console.print(f"  hub: {status.hub}")
    console.print("network weight: " + ("-" if status.network_weight is None else f"{status.network_weight:.4f}"))
    table = Table(title="validators' weight on me", title_justify="left")
    for column in ("uid", "hotkey", "stake", "weight on me"):
        table.add_column(column, justify="left" if column == "hotkey" else "right")
    for v in status.validators:
        table.add_row(str(v.uid), display.short_hotkey(v.hotkey), f"{v.stake:,.1f}", f"{v.weight_on_me:.4f}")
    console.print(table)
    best = Table(title="best model per competition (highest network weight)", title_justify="left")
    for column in ("competition", "uid", "hotkey", "model", "network weight", "loss/token", "loss from"):
        best.add_column(column)
    for b in status.best:
        best.add_row(b.competition, str(b.uid), display.short_hotkey(b.hotkey), display.short_pointer(b.pointer),
                     f"{b.network_weight:.4f}", display.number(b.loss), b.loss_note)
    console.print(best)


def add_status_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("status", help="my commitment, the validators' weight on it, the best model per competition")
    p.add_argument("--subtensor.network", dest="network", default=None,
                   help=f"embedded[:PATH] (default: ${CHAIN_ENV} or embedded), finney, test, local, ws(s)://")
    p.add_argument("--netuid", type=int, default=29)
    p.add_argument("--wallet.name", dest="wallet_name", default="miner")
    p.add_argument("--wallet.hotkey", dest="wallet_hotkey", default="default")
    p.add_argument("--wallet.path", dest="wallet_path", default=None)
    p.add_argument("--hub", default=None, help="directory[:PATH] (default: $SN29_HUB or directory) or hf[:ENDPOINT]")
    p.add_argument("--hub.token", dest="hub_token", default=None)
    p.add_argument("--state.dir", dest="state_dir", default=None,
                   help="a validator's state folder to read losses from (else losses are unknown)")
    p.add_argument("--json", action="store_true", dest="as_json")
    p.set_defaults(func=run_status)


def run_status(args: argparse.Namespace) -> int:
    from node.chain.wallets import load_wallet

    wallet = load_wallet(args.wallet_name, args.wallet_hotkey, args.wallet_path)
    if not wallet.hotkey_file.exists_on_device():
        print(f"error: no hotkey file {wallet.hotkey_file.path}", file=sys.stderr)
        return 2
    hotkey = wallet.hotkey.ss58_address
    chain = open_chain(args.network or os.environ.get(CHAIN_ENV), args.netuid)
    try:
        status = read_status(chain, open_hub(args.hub, token=args.hub_token), hotkey, args.state_dir)
    except ChainError as err:
        print(f"error: cannot read the chain: {err}", file=sys.stderr)
        return 1
    finally:
        chain.close()
    if args.as_json:
        json.dump(asdict(status), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        render(status, sys.stdout)
    return 0
