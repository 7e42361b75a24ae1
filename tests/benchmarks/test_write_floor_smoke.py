"""Smoke test of benchmarks/write_floor.py: a tiny run for 3 and 5 processes; the JSON has
each size's figures, and no process the run started outlives it."""

from __future__ import annotations

import json
from collections.abc import Callable

DEADLINE_S = 120.0  # ~5 s on an idle machine


def test_write_floor_smoke(run_script: Callable[[str, list[str], float], str]) -> None:
    args = ["--nodes", "3,5", "--repeat", "1", "--seconds", "0.3", "--json"]
    figures = json.loads(run_script("write_floor.py", args, DEADLINE_S))
    assert set(figures) == {"3", "5"}
    for size, got in figures.items():
        assert got["runs"] == 1 and got["ops_per_s_min"] == got["ops_per_s_max"], (size, got)
        assert got["ops_per_s"] > 0 and 0 < got["p50_ms"] <= got["p99_ms"], (size, got)
