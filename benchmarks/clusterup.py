"""Waiting for a cluster a benchmark started with `python -m sentinel.cluster up`.

It imports nothing of Sentinel's: a benchmark that runs another source tree's code (with
`--before TREE`) passes that tree's `connect`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: How long `up` may take to answer (it starts every process and elects a leader).
READY_TIMEOUT_S = 60.0
POLL_S = 0.2


def connect_when_up(
    connect: Callable[[Path], Any], directory: Path, up: subprocess.Popen,
    timeout_s: float = READY_TIMEOUT_S,
) -> Any:  # fmt: skip
    """`connect(directory)` once the cluster `up` is starting answers (its router is up and
    the directory holds its key); RuntimeError if `up` exits first."""
    deadline = time.monotonic() + timeout_s
    while True:
        if up.poll() is not None:
            raise RuntimeError(f"sentinel up ended with status {up.returncode}")
        try:
            return connect(directory)
        except (OSError, ValueError):
            if time.monotonic() > deadline:
                raise
            time.sleep(POLL_S)
