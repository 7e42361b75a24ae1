"""Smoke test of benchmarks/crash_recovery.py: tiny settings; the JSON summary has its keys,
no acknowledged write was lost, every history was linearizable, and no process the run
started outlives it (conftest.py's `run_script`). No timing is asserted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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


def test_crash_recovery_smoke(
    tmp_path: Path, run_script: Callable[[str, list[str], float], str]
) -> None:
    args = ["--nodes", "3", "--rounds", "1", "--clients", "3",
            "--scenarios", "kill-leader,lagging-follower", "--snapshot-mb", "0.1",
            "--cold-keys", "50", "--maxraftstate", "50000", "--baseline-s", "0.5",
            "--seed", "7", "--output", str(tmp_path / "out"), "--json"]  # fmt: skip
    out = run_script("crash_recovery.py", args, DEADLINE_S)
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
