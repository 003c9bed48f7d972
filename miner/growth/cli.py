"""`python -m miner grow` and `python -m miner verify-growth`: argument parsing only."""

from __future__ import annotations

import argparse
import re

from .grow import DEFAULT_SHARD_BYTES, grow
from .layer_spec import format_layer_spec
from .operators import Dtype, Heads, Hidden, Intermediate, Interpolate, Layers, NumLayers, Operator, Stack, Vocab
from .plan import GrowthPlan

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(|B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)$")
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def parse_size(text: str) -> int:
    match = _SIZE.match(text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (examples: 100MB, 2GiB, 5000000)")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def add_grow_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("grow", help="grow a Llama/Phi3 checkpoint into a larger one (loss-preserving by default)")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--hidden-size", type=int)
    p.add_argument("--intermediate-size", type=int)
    p.add_argument("--num-heads", type=int)
    p.add_argument("--num-kv-heads", type=int)
    p.add_argument("--vocab-size", type=int)
    depth = p.add_mutually_exclusive_group()
    depth.add_argument("--num-layers", type=int, help="insert identity layers spread evenly up to N positions")
    depth.add_argument("--stack", type=int, metavar="G", help="G_stack: the whole stack G times")
    depth.add_argument("--interpolate", type=int, metavar="K", help="each layer K times in place")
    depth.add_argument("--layers", metavar="SPEC", help="e.g. '0-1,2-5*3,4-5', '_' = fresh layer, 'paper:12-3456*5-56'")
    p.add_argument("--copy-writers", action="store_true",
                   help="duplicated layers keep their trained writers (published G_stack; NOT loss-preserving)")
    p.add_argument("--layer-map", action="store_true", help="duplicate layers by reference (config.layer_map)")
    p.add_argument("--plan", help="YAML/JSON growth plan; flags above add operators after the plan's")
    p.add_argument("--init", choices=["exact", "zeros", "noisy"])
    p.add_argument("--noise", type=float, help="noisy init: writer std as a fraction of initializer_range")
    p.add_argument("--seed", type=int)
    p.add_argument("--dtype", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--max-shard-size", type=parse_size, default=DEFAULT_SHARD_BYTES)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run_grow)


def add_verify_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify-growth", help="check that CHILD was grown from PARENT with unchanged loss")
    p.add_argument("parent")
    p.add_argument("child")
    p.add_argument("--samples", type=int, default=8, help="held-out samples for the loss comparison")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--tolerance", type=float, help="allowed |dloss| in nats per sample")
    p.add_argument("--dtype", choices=["float32", "bfloat16"], default="float32")
    p.add_argument("--allow-vocab-penalty", action="store_true", help="accept the loss rise of a grown vocabulary")
    p.add_argument("--structure-only", action="store_true", help="skip loading the models")
    p.set_defaults(func=run_verify)


def plan_from_args(args: argparse.Namespace) -> GrowthPlan:
    plan = GrowthPlan.from_file(args.plan) if args.plan else GrowthPlan()
    ops: list[Operator] = []
    if args.hidden_size:
        ops.append(Hidden(args.hidden_size))
    if args.intermediate_size:
        ops.append(Intermediate(args.intermediate_size))
    if args.num_heads or args.num_kv_heads:
        ops.append(Heads(args.num_heads, args.num_kv_heads))
    if args.vocab_size:
        ops.append(Vocab(args.vocab_size))
    if args.num_layers:
        ops.append(NumLayers(args.num_layers))
    if args.stack:
        ops.append(Stack(args.stack, copy_writers=args.copy_writers))
    if args.interpolate:
        ops.append(Interpolate(args.interpolate, copy_writers=args.copy_writers))
    if args.layers:
        ops.append(Layers(args.layers, copy_writers=args.copy_writers))
    if args.dtype:
        ops.append(Dtype(args.dtype))
    plan.operators += ops
    if args.init:
        plan.init = args.init
    if args.seed is not None:
        plan.seed = args.seed
    if args.noise is not None:
        plan.noise = args.noise
    if args.layer_map:
        plan.layer_map = True
    GrowthPlan.from_dict(plan.to_dict())  # validate the merged plan
    return plan


def run_grow(args: argparse.Namespace) -> int:
    plan = plan_from_args(args)
    report = grow(args.src, args.dst, plan, max_shard_bytes=args.max_shard_size, overwrite=args.overwrite)
    c = report.config
    print(f"wrote {report.child_dir}: hidden {c['hidden_size']}, intermediate {c['intermediate_size']}, "
          f"heads {c['num_attention_heads']}/{c['num_key_value_heads']}, {c['num_hidden_layers']} layers"
          + (f" (layer_map {format_layer_spec(c['layer_map'])})" if c.get("layer_map") else "")
          + f", vocab {c['vocab_size']}, norm_divisor {c.get('norm_divisor')}")
    print(f"{report.tensors} tensors, {report.bytes_written / 1e6:.1f} MB in {report.shards} shard(s), "
          f"{report.seconds:.1f} s")
    for warning in report.warnings:
        print(f"warning: {warning}")
    if report.exact:
        print("loss-preserving: yes (check with `python -m miner verify-growth`)")
    else:
        print("loss-preserving: NO")
        for note in report.notes:
            print(f"  - {note}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    import torch

    from node.lineage import DEFAULT_TOLERANCE, verify_growth

    report = verify_growth(args.parent, args.child, num_samples=args.samples, max_tokens=args.max_tokens,
                           tolerance=args.tolerance if args.tolerance is not None else DEFAULT_TOLERANCE,
                           dtype=getattr(torch, args.dtype), allow_vocab_penalty=args.allow_vocab_penalty,
                           functional=not args.structure_only)
    print(report.summary())
    if report.function is not None:
        print(f"max |dloss| = {report.function.max_abs_delta:.6g}")
    return 0 if report.ok else 1
