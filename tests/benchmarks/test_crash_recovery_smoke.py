"""Smoke test of benchmarks/crash_recovery.py: tiny settings, run as a subprocess with a
deadline; the JSON summary has its keys, no acknowledged write was lost, every history was
linearizable, and no process the run started outlives it. No timing is asserted."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from pathlib import Path

import psutil

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "crash_recovery.py"
DEADLINE_S = 120.0  # the run takes ~15 s on an idle machine; far more on a loaded one
SCENARIO_KEYS = {
    "rounds",
    "new_leader_ms_p50",
    "unavailable_ms_p50",
    "unavailable_ms_p99",
    "catchup_ms_p50",
    "lost_writes",
    "linearizable",
}


def _descendants(proc: psutil.Process, seen: set[int]) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        seen.update(p.pid for p in proc.children(recursive=True))


def test_crash_recovery_smoke(tmp_path: Path) -> None:
    args = [sys.executable, str(SCRIPT), "--nodes", "3", "--rounds", "1", "--clients", "3",
            "--scenarios", "kill-leader,lagging-follower", "--snapshot-mb", "0.1",
            "--cold-keys", "50", "--maxraftstate", "50000", "--baseline-s", "0.5",
            "--seed", "7", "--output", str(tmp_path / "out"), "--json"]  # fmt: skip
    print("running:", " ".join(args))
    proc = psutil.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: set[int] = set()
    deadline = time.monotonic() + DEADLINE_S
    try:
        while proc.poll() is None:  # note every process it starts, to check none outlives it
            assert time.monotonic() < deadline, "the benchmark did not finish in time"
            _descendants(proc, seen)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, f"exit {proc.returncode}\n{err[-3000:]}"
    summary = json.loads(out)
    assert set(summary["scenarios"]) == {"kill-leader", "lagging-follower"}
    for name, figures in summary["scenarios"].items():
        assert set(figures) >= SCENARIO_KEYS, name
        assert figures["rounds"] == 1
        assert figures["lost_writes"] == 0, name
        assert figures["linearizable"] is True, name
        assert figures["catchup_ms_p50"] is not None, name
    assert summary["scenarios"]["kill-leader"]["new_leader_ms_p50"] is not None
    assert summary["scenarios"]["lagging-follower"]["catchup_methods"] == ["snapshot"]
    assert summary["violation"] is None
    full = json.loads((tmp_path / "out" / "crash_recovery.json").read_text())
    assert len(full["rounds"]) == 2
    assert all(r["acked_writes"] > 0 for r in full["rounds"])
    assert not (tmp_path / "out" / "cluster").exists(), "the cluster data is removed on success"
    assert seen, "the benchmark started no process?"
    # helpers of the run (the fork server, multiprocessing's resource tracker) exit on their
    # own once they see the run's end: give them a moment, then name any that stays
    gone_by = time.monotonic() + 15.0
    while (alive := _alive(seen)) and time.monotonic() < gone_by:
        time.sleep(0.1)
    assert not alive, f"processes left running: {alive}"


def _alive(pids: set[int]) -> dict[int, str]:
    out = {}
    for pid in pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                out[pid] = " ".join(p.cmdline())[:120]
    return out
