"""Smoke test of benchmarks/resp_parse.py: a short run measures both workloads with the pure
reader (and hiredis when installed) and prints one JSON object."""

from __future__ import annotations

import json
from collections.abc import Callable

DEADLINE_S = 120.0  # ~2 s on an idle machine


def test_resp_parse_smoke(run_script: Callable[[str, list[str], float], str]) -> None:
    args = ["--json", "--requests", "2000", "--bulks", "20", "--bulk-bytes", "100000"]
    fig = json.loads(run_script("resp_parse.py", args, DEADLINE_S))
    assert fig["config"]["requests"] == 2000
    for workload in ("small", "large"):
        assert fig[workload]["pure"]["requests_per_s"] > 0, fig
        for parser in fig[workload].values():
            assert parser["mb_per_s"] > 0, fig
