"""The local network (`scripts/devnet`): an embedded chain and directory hub, one validator daemon and four
miners as separate processes, driven phase by phase so the point of the project shows in what it prints.

It sits above both node roles (`scripts -> devnet -> validator, miner -> node`): it imports the validator's
read-only state views and `node`, and runs every miner and validator action as the command an operator would
type (`python -m miner ...`, `python -m validator ...`), each in its own process group with its own log.
"""
