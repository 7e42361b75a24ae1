"""Make the core's test harness (tests/raft/raft_harness.py) and this directory's shared
helpers (test_storage.py) importable under --import-mode=importlib."""

import pathlib
import sys

_HERE = pathlib.Path(__file__).parent
for _path in (str(_HERE), str(_HERE.parent / "raft")):
    if _path not in sys.path:
        sys.path.insert(0, _path)
