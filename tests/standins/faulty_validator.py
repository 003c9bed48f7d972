"""`python -m validator` with its chain wrapped by `standins.faulty_chain.from_env`: a real daemon process
whose chain fails as `$SN29_CHAIN_FAULTS` says (the fault suites' one boundary, in another process)."""

from __future__ import annotations

import sys

import validator.services
from standins.faulty_chain import from_env
from validator.cli import main

_open_chain = validator.services.open_chain


def _faulty_open_chain(spec, netuid=29):
    return from_env(_open_chain(spec, netuid))


if __name__ == "__main__":
    validator.services.open_chain = _faulty_open_chain
    sys.exit(main(sys.argv[1:]))
