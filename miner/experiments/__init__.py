"""Growth experiments: the seed studies rerun at small scale, one command each (`python -m miner experiment NAME`).

Each experiment is a module exposing `EXPERIMENT` (`registry.Experiment`): a frozen config dataclass read from
YAML (`configs/<name>.yaml` is the default, tiny configuration), and a `run(config, context)` returning an
`ExperimentResult` (rows -> CSV, figures -> PNG, a markdown summary, one `key=value` headline). Shared
small-scale pieces (data with a compacted vocabulary, tiny models, a plain training loop, FLOP counting, the
validator's held-out loss) live in `lab.py` so every experiment measures the same way.
"""
