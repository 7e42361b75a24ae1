"""Smoke test of benchmarks/kv_throughput.py: a tiny run as a subprocess with a deadline; the
JSON has every case with its figures, and no process the run started outlives it. No timing
is asserted (benchmarks print figures; tests never hold them to targets)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kv_throughput.py"
DEADLINE_S = 180.0  # ~10 s on an idle machine; far more on a loaded one
LINGER_S = 15.0
CASES = {"write_1", "write_32", "read_1", "read_32", "write_1_blocking", "read_1_blocking"}
FIGURES = {"ops_per_s", "p50_ms", "p99_ms", "client_cpu_us_per_op", "ops_per_batch", "runs",
           "ops_per_s_min", "ops_per_s_max", "python_loop_ns"}  # fmt: skip


def test_kv_throughput_smoke() -> None:
    args = [sys.executable, str(SCRIPT), "--nodes", "3", "--repeat", "1", "--seconds", "0.3",
            "--json"]  # fmt: skip
    proc = psutil.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Process objects, not pids: each remembers its start time, so a pid the system hands to
    # another process later (pid_max is 32768 here) is not taken for ours.
    started: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + DEADLINE_S
        while proc.poll() is None and time.monotonic() < deadline:  # note what it starts
            with contextlib.suppress(psutil.NoSuchProcess):
                for child in proc.children(recursive=True):
                    started.setdefault(child.pid, child)
            time.sleep(0.1)
        out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    figures = json.loads(out)
    assert set(figures) == {"3"} and set(figures["3"]) == CASES
    for case, got in figures["3"].items():
        assert set(got) >= FIGURES, case
        assert got["ops_per_s"] > 0 and 0 < got["p50_ms"] <= got["p99_ms"], (case, got)
        assert got["ops_per_batch"] == 0 or got["ops_per_batch"] >= 2, (case, got)
        assert 10 < got["python_loop_ns"] < 100_000, (case, got)  # a loop of 100 additions
    # Helpers such as multiprocessing's resource tracker leave a moment after the run does:
    # wait for them (with a deadline); anything still running then is a leak.
    _gone, alive = psutil.wait_procs(list(started.values()), timeout=LINGER_S)
    leaked = []
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            if child.is_running() and child.status() != psutil.STATUS_ZOMBIE:
                leaked.append((child.pid, child.cmdline()))
    assert not leaked, leaked
