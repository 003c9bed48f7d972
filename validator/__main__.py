"""`python -m validator`: see `validator.cli`."""

import sys

from validator.cli import main

sys.exit(main())
