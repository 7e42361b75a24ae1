"""`run_script`: run a benchmark script as a test, as a user would (a subprocess, its
figures on stdout), with a deadline, and check that no process it started outlives it.
Benchmark tests never hold figures to targets: a benchmark prints them."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
#: Helpers of a run (multiprocessing's resource tracker, a fork server) leave a moment after
#: it does; anything still running this long after is a leak.
LINGER_S = 15.0
WATCH_S = 0.05


def _run(script: str, args: list[str], deadline_s: float) -> str:
    """Run benchmarks/`script` with `args`; its stdout, once it exited 0 within
    `deadline_s` and everything it started is gone."""
    argv = [sys.executable, str(BENCHMARKS / script), *args]
    print("running:", " ".join(argv))
    proc = psutil.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Process objects, not pids: each remembers its start time, so a pid the system hands to
    # another process later is not taken for ours.
    started: dict[int, psutil.Process] = {}
    deadline = time.monotonic() + deadline_s
    try:
        while proc.poll() is None:  # note every process it starts
            assert time.monotonic() < deadline, f"{script} did not finish in {deadline_s} s"
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in proc.children(recursive=True):
                    started.setdefault(child.pid, child)
            time.sleep(WATCH_S)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{err[-3000:]}"
    assert started, f"{script} started no process?"
    _gone, alive = psutil.wait_procs(list(started.values()), timeout=LINGER_S)
    leaked = []
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                leaked.append((child.pid, " ".join(child.cmdline())[:120]))
    assert not leaked, f"processes left running: {leaked}"
    return out


@pytest.fixture
def run_script() -> Callable[[str, list[str], float], str]:
    """`run_script(script, args, deadline_s)`: see `_run`."""
    return _run
