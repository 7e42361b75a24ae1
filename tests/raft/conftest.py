"""Make the in-test harness (raft_harness.py) importable under --import-mode=importlib."""

import pathlib
import sys

_HERE = str(pathlib.Path(__file__).parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
