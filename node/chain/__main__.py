"""Entry point for `python -m node.chain`."""

import sys

from node.chain.cli import main

sys.exit(main())
