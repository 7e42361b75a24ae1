"""Smoke test of benchmarks/resp_parse.py: a short run measures both workloads with the pure
reader (and hiredis when installed) and prints one JSON object. It starts no process of its
own, so it runs without `run_script`'s process accounting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DEADLINE_S = 120.0  # ~2 s on an idle machine
SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "resp_parse.py"


def test_resp_parse_smoke() -> None:
    args = ["--json", "--requests", "2000", "--bulks", "20", "--bulk-bytes", "100000"]
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=DEADLINE_S, check=True)  # fmt: skip
    fig = json.loads(done.stdout)
    assert fig["config"]["requests"] == 2000
    for workload in ("small", "large"):
        assert fig[workload]["pure"]["requests_per_s"] > 0, fig
        for parser in fig[workload].values():
            assert parser["mb_per_s"] > 0, fig
