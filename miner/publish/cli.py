"""`python -m miner publish DIR --competition C --repo NAMESPACE/NAME`: argument parsing and exit codes.

Exit codes: 0 published (or already published), 1 refused or stopped (the reason kind is printed: a gate
refusal's `RefusalKind`, `not_better` with the losing comparison, a hub or chain failure), 2 a usage or
settings error (unknown competition, bad repo id or parent pointer, missing wallet or folder).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from node.chain import ChainError, ChainReadError, NotRegisteredError, RateLimitedError
from node.hub import HubError
from node.refusal import Refused

from .publisher import Publisher, PublishError, PublishKind, PublishSettings

KILL_AFTER_ENV = "SN29_PUBLISH_KILL_AFTER"  # test hook: SIGKILL this process right after the named step


def add_publish_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("publish", help="check, compare with the current best, upload and commit a model")
    p.add_argument("model_dir", metavar="DIR")
    p.add_argument("--competition", required=True, help="competition id (from the competitions document)")
    p.add_argument("--repo", required=True, metavar="NAMESPACE/NAME", help="hub repository to upload to")
    p.add_argument("--subtensor.network", dest="chain", help="embedded[:PATH] | finney | test | local | ws(s)://... "
                   "(default: $SN29_CHAIN, else the embedded devnet)")
    p.add_argument("--netuid", type=int, default=29)
    p.add_argument("--wallet.name", dest="wallet_name", default="default")
    p.add_argument("--wallet.hotkey", dest="wallet_hotkey", default="default")
    p.add_argument("--wallet.path", dest="wallet_path", help="default: $SN29_WALLET_PATH, else <cache>/wallets")
    p.add_argument("--hub", help="directory[:PATH] | hf[:ENDPOINT] (default: $SN29_HUB, else the directory hub)")
    p.add_argument("--competitions", help="competitions document: bundled (default), a file or an http(s) URL")
    p.add_argument("--device", default="cpu", help="evaluate like a validator on this device (cpu, cuda, cuda:N)")
    p.add_argument("--samples", type=int, default=64, help="held-out samples for the comparison")
    p.add_argument("--force", action="store_true", help="publish even if the model does not beat the best")
    p.add_argument("--parent", metavar="POINTER", help="write lineage.json naming this parent pointer")
    p.add_argument("--state", type=Path, help="state file (default: DIR/../.publish-<DIR name>.json)")
    p.add_argument("--store", type=Path, help="where the current best model is downloaded")
    p.add_argument("--eval-timeout-s", type=float, default=1800.0)
    p.add_argument("--readback-timeout-s", type=float, default=120.0)
    p.set_defaults(func=run_publish)


def _kill_hook(step: str) -> None:
    if os.environ.get(KILL_AFTER_ENV) == step:
        os.kill(os.getpid(), signal.SIGKILL)


def _wallet(args: argparse.Namespace):
    from node.chain.wallets import load_wallet

    wallet = load_wallet(args.wallet_name, args.wallet_hotkey, args.wallet_path)
    if not wallet.hotkey_file.exists_on_device():
        raise FileNotFoundError(f"no hotkey {args.wallet_name}/{args.wallet_hotkey} under {wallet.path} "
                                "(create it with `python -m node.chain register` or btcli)")
    return wallet


def _stopped(kind: str, message: str) -> int:
    print(f"refused: {kind}: {message}", file=sys.stderr)
    return 1


def run_publish(args: argparse.Namespace) -> int:
    from node.chain import open_chain
    from node.competitions import CompetitionsSource
    from node.hub import open_hub

    settings = PublishSettings(
        model_dir=Path(args.model_dir), repo_id=args.repo, competition=args.competition, samples=args.samples,
        device=args.device, force=args.force, parent=args.parent, state_path=args.state, store_dir=args.store,
        eval_timeout_s=args.eval_timeout_s, readback_timeout_s=args.readback_timeout_s,
    )
    competitions = CompetitionsSource(args.competitions).current()
    wallet = _wallet(args)
    hub = open_hub(args.hub)
    chain = open_chain(args.chain, args.netuid)
    try:
        publisher = Publisher(settings, chain, hub, wallet, competitions, say=lambda line: print(line, flush=True),
                              after_step=_kill_hook)
        publisher.run()
        return 0
    except Refused as refusal:  # the validator's own checks refused the model
        return _stopped(refusal.kind.value, refusal.message)
    except PublishError as err:
        return _stopped(err.kind, err.message)
    except HubError as err:
        from node.verify import hub_refusal

        refusal = hub_refusal(err)
        return _stopped(refusal.kind.value, refusal.message)
    except RateLimitedError as err:
        return _stopped("rate_limited", f"{err}; run the same command again later")
    except NotRegisteredError as err:
        return _stopped(PublishKind.NOT_REGISTERED.value, str(err))
    except ChainError as err:
        kind = "chain_unavailable" if isinstance(err, ChainReadError) else "commit_failed"
        return _stopped(kind, f"{err}; run the same command again (completed steps are not repeated)")
    finally:
        chain.close()
