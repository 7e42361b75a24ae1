"""Entry point for ``python -m sentinel.lin``."""

import sys

from sentinel.lin.cli import main

sys.exit(main())
