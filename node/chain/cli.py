"""`python -m node.chain`: create and administer the embedded chain from a shell.

    python -m node.chain init --netuid 29 --block-time 12
    python -m node.chain register miner1 --stake 10
    python -m node.chain register validator1 --stake 1000 --permit
    python -m node.chain metagraph | commitments | weights | block
    python -m node.chain advance 100
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from node.chain.errors import ChainError
from node.chain.local import LocalChain, create_network
from node.chain.local.config import (
    DEFAULT_COMMIT_RATE_LIMIT,
    DEFAULT_MAX_UIDS,
    DEFAULT_NETUID,
    DEFAULT_WEIGHTS_RATE_LIMIT,
)
from node.chain.paths import default_chain_path
from node.chain.table import render
from node.chain.wallets import DEFAULT_COLDKEY_NAME, default_wallet_path, ensure_hotkey, load_wallet


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m node.chain", description="Administer the embedded chain.")
    parser.add_argument("--chain", type=Path, default=None, help="chain file (default: $SN29_CHAIN or cache)")
    parser.add_argument("--wallet-path", type=Path, default=None, help="wallets folder (default: cache)")
    parser.add_argument("--wallet", default=DEFAULT_COLDKEY_NAME, help="wallet (coldkey) name for hotkeys")
    sub = parser.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="create a network")
    init.add_argument("--netuid", type=int, default=DEFAULT_NETUID)
    init.add_argument("--block-time", type=float, default=12.0, help="seconds per block; 0 = manual clock")
    init.add_argument("--commit-rate-limit", type=int, default=DEFAULT_COMMIT_RATE_LIMIT)
    init.add_argument("--weights-rate-limit", type=int, default=DEFAULT_WEIGHTS_RATE_LIMIT)
    init.add_argument("--max-uids", type=int, default=DEFAULT_MAX_UIDS)
    init.add_argument("--weights-version", type=int, default=0)
    init.add_argument("--exist-ok", action="store_true", help="do nothing if a network exists")

    register = sub.add_parser("register", help="register a hotkey (created offline if needed)")
    register.add_argument("hotkey", help="hotkey name in --wallet, or an ss58 address")
    register.add_argument("--stake", type=float, default=None)
    register.add_argument("--permit", action="store_true", help="also grant a validator permit")

    stake = sub.add_parser("stake", help="set a hotkey's stake")
    stake.add_argument("hotkey")
    stake.add_argument("amount", type=float)
    stake.add_argument("--add", action="store_true", help="add to the current stake instead of setting it")

    permit = sub.add_parser("permit", help="grant (or --revoke) a validator permit")
    permit.add_argument("hotkey")
    permit.add_argument("--revoke", action="store_true")

    advance = sub.add_parser("advance", help="move the clock forward")
    advance.add_argument("blocks", type=int)

    for name, text in (
        ("metagraph", "registered neurons"),
        ("commitments", "current commitments"),
        ("weights", "validators' weights"),
        ("block", "current block and hash"),
    ):
        sub.add_parser(name, help=text)
    return parser


def _resolve_hotkey(args: argparse.Namespace, name: str, create: bool) -> str:
    """An ss58 address as given, or the address of hotkey `name` in the --wallet wallet."""
    from bittensor.sp_core import Keypair

    try:
        return Keypair(ss58_address=name).ss58_address
    except (ValueError, TypeError):
        pass
    path = args.wallet_path or default_wallet_path()
    wallet = ensure_hotkey(args.wallet, name, path) if create else load_wallet(args.wallet, name, path)
    if not wallet.hotkeypub_file.exists_on_device() and not wallet.hotkey_file.exists_on_device():
        raise ChainError(f"no hotkey {name!r} in wallet {args.wallet!r} under {path}; register it first")
    return wallet.hotkeypub.ss58_address


def run(args: argparse.Namespace) -> str:
    path: Path = args.chain or default_chain_path()
    if args.command == "init":
        create_network(
            path,
            netuid=args.netuid,
            block_time=args.block_time,
            commit_rate_limit=args.commit_rate_limit,
            weights_rate_limit=args.weights_rate_limit,
            max_uids=args.max_uids,
            weights_version=args.weights_version,
            exist_ok=args.exist_ok,
        )
        cfg = LocalChain(path).network()
        return f"network netuid={cfg.netuid} block_time={cfg.block_time}s in {path}"
    chain = LocalChain(path)
    if args.command == "register":
        hotkey = _resolve_hotkey(args, args.hotkey, create=True)
        uid = chain.register(hotkey)
        if args.stake is not None:
            chain.set_stake(hotkey, args.stake)
        if args.permit:
            chain.set_permit(hotkey, True)
        return f"uid {uid}  {hotkey}  ({args.hotkey})"
    if args.command == "stake":
        new = chain.set_stake(_resolve_hotkey(args, args.hotkey, False), args.amount, add=args.add)
        return f"stake {new:g}"
    if args.command == "permit":
        chain.set_permit(_resolve_hotkey(args, args.hotkey, False), not args.revoke)
        return "permit revoked" if args.revoke else "permit granted"
    if args.command == "advance":
        return f"block {chain.advance(args.blocks)}"
    if args.command == "block":
        return f"block {chain.block()}  hash {chain.block_hash()}"
    return _report(chain, args.command)


def _report(chain: LocalChain, command: str) -> str:
    if command == "metagraph":
        mg = chain.metagraph()
        rows = [(n.uid, n.hotkey, n.stake, n.validator_permit, n.last_update) for n in mg.neurons]
        title = f"netuid {mg.netuid} at block {mg.block}: {len(rows)} neurons"
        return title + "\n" + render(("uid", "hotkey", "stake", "permit", "last_update"), rows)
    if command == "commitments":
        from node.identity import read_pointer

        rows = []
        for c in chain.commitments().values():
            parsed = read_pointer(c.data)
            rows.append((c.uid, c.hotkey, c.block, c.data, "ok" if parsed.ok else parsed.reason))
        return render(("uid", "hotkey", "block", "commitment", "pointer"), rows)
    rows = [(v, u, round(w, 6)) for v, row in chain.weights().items() for u, w in row.items()]
    return render(("validator_uid", "uid", "weight"), rows)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(run(args))
    except (ChainError, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
