"""`python -m miner experiment NAME`: run one growth experiment and write its CSV, PNGs and summary.

Exit codes follow the project's convention: 0 done, 1 the experiment failed while running, 2 bad usage or
config (unknown experiment, unknown key, wrong type).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from node.paths import cache_dir

from . import registry


def add_experiment_parser(sub) -> None:
    p = sub.add_parser("experiment", help="rerun a growth study at small scale (CSV + PNG + summary)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("name", choices=registry.names(), help="which experiment")
    p.add_argument("--config", type=Path, help="YAML/JSON config (default: the experiment's tiny configs/NAME.yaml)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override one config key (value read as YAML, e.g. seeds=[0,1,2]); repeatable")
    p.add_argument("--out", type=Path, help="output folder (default: <cache>/experiments/NAME/<UTC timestamp>)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (bf16 autocast on cuda)")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--update-readme", action="store_true",
                   help="also write the summary and plots into miner/experiments/README.md")
    p.set_defaults(func=run_experiment_command)


def run_experiment_command(args: argparse.Namespace) -> int:
    import torch

    from .context import RunContext
    from .results import update_readme, write_result
    from .settings import config_dict, load_config

    experiment = registry.get(args.name)
    config_path = args.config or experiment.default_config_path
    config = load_config(experiment.config_type, config_path if config_path.exists() else None, args.sets)
    out = args.out or cache_dir() / "experiments" / args.name / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available")
    started = time.monotonic()
    print(f"experiment {args.name}: {experiment.question}\nconfig {config_path} -> {out}", flush=True)
    result = experiment.run(config, RunContext(out_dir=out, device=device))
    paths = write_result(result, out, args.name, config_dict(config))
    if args.update_readme:
        update_readme(args.name, result, out)
    print(f"wrote {', '.join(p.name for p in paths)} in {out} ({time.monotonic() - started:.0f} s)")
    print(result.headline_line(), flush=True)
    return 0


