"""CLI: `python -m node.assets build | verify | path`.

Failures end with one line on stderr and a non-zero exit, so scripts (`scripts/test`, CI) show
the reason without a traceback; `--traceback` brings the traceback back for debugging.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

from node.assets.errors import AssetError
from node.assets.layout import SMALL_MODEL_LLAMA, SMALL_MODEL_PHI3, TOKENIZER_NAMES, AssetLayout

PATH_NAMES = (
    "root",
    "manifest",
    "downloads",
    "corpus",
    "tiktoken-cache",
    *(f"tokenizer:{n}" for n in TOKENIZER_NAMES),
    f"model:{SMALL_MODEL_LLAMA}",
    f"model:{SMALL_MODEL_PHI3}",
)


def _layout(args: argparse.Namespace) -> AssetLayout:
    return AssetLayout(Path(args.root).expanduser().resolve()) if args.root else AssetLayout.default()


def _named_path(layout: AssetLayout, name: str) -> Path:
    kind, _, value = name.partition(":")
    if kind == "tokenizer":
        return layout.tokenizer_dir(value)
    if kind == "model":
        return layout.model_dir(value)
    fixed = {
        "root": layout.root,
        "manifest": layout.manifest,
        "downloads": layout.downloads,
        "corpus": layout.corpus,
        "tiktoken-cache": layout.tiktoken_cache,
    }
    return fixed[name]


def _cmd_build(args: argparse.Namespace) -> int:
    from node.assets.build import build
    from node.assets.download import Downloader

    layout = _layout(args)
    source = Downloader(layout.downloads, index=args.index) if args.index else None
    print(f"assets root: {layout.root}")
    report = build(layout, force=args.force, only=args.only, source=source)
    total = sum(r.bytes for r in report.results)
    built = report.built
    print(
        f"done in {report.seconds:.1f}s: {len(report.results)} step(s), {total / 1e6:.1f} MB; "
        f"built: {', '.join(built) or 'nothing (all verified)'}; "
        f"downloaded: {', '.join(report.downloaded) or 'nothing'}"
    )
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from node.assets.build import verify

    layout = _layout(args)
    files, total = verify(layout)
    print(f"ok: {files} files, {total / 1e6:.1f} MB match {layout.manifest}")
    return 0


def _cmd_path(args: argparse.Namespace) -> int:
    print(_named_path(_layout(args), args.name))
    return 0


def parser() -> argparse.ArgumentParser:
    from node.assets.build import STEP_NAMES

    top = argparse.ArgumentParser(prog="python -m node.assets", description=__doc__.splitlines()[0])
    top.add_argument("--traceback", action="store_true", help="show the full traceback on failure")
    sub = top.add_subparsers(dest="command", required=True)

    def with_root(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--root", help="assets folder (default: $SN29_CACHE_DIR/assets or the user cache)")
        return p

    build = with_root(sub.add_parser("build", help="build missing assets; verify the rest (idempotent)"))
    build.add_argument("--force", action="store_true", help="rebuild every selected step (downloads stay cached)")
    build.add_argument(
        "--only",
        action="append",
        choices=STEP_NAMES,
        metavar="STEP",
        help=f"build just STEP (+ what it needs): {', '.join(STEP_NAMES)}",
    )
    build.add_argument("--index", help="package index URL (default: $PIP_INDEX_URL or https://pypi.org/simple)")
    build.set_defaults(func=_cmd_build)

    verify = with_root(sub.add_parser("verify", help="check every built file against the manifest"))
    verify.set_defaults(func=_cmd_verify)

    path = with_root(sub.add_parser("path", help="print where an asset lives"))
    path.add_argument("name", nargs="?", default="root", choices=PATH_NAMES, help=f"one of: {', '.join(PATH_NAMES)}")
    path.set_defaults(func=_cmd_path)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted (rerun to resume; finished steps are kept)", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's contract is a one-line reason
        if args.traceback:
            traceback.print_exc()
        reason = str(exc) if isinstance(exc, AssetError) else f"{type(exc).__name__}: {exc}"
        print(f"error: {' '.join(reason.split())}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
