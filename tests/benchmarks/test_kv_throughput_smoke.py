"""Smoke test of benchmarks/kv_throughput.py: a tiny run; the JSON has every case with its
figures (write_1 with its floor), and no process the run started outlives it."""

from __future__ import annotations

import json
from collections.abc import Callable

DEADLINE_S = 180.0  # ~15 s on an idle machine; far more on a loaded one
CASES = {"write_1", "write_32", "read_1", "read_32", "write_1_blocking", "read_1_blocking"}
FIGURES = {"ops_per_s", "p50_ms", "p99_ms", "client_cpu_us_per_op", "ops_per_batch", "runs",
           "ops_per_s_min", "ops_per_s_max", "python_loop_ns"}  # fmt: skip


def test_kv_throughput_smoke(run_script: Callable[[str, list[str], float], str]) -> None:
    args = ["--nodes", "3", "--repeat", "1", "--seconds", "0.3", "--json"]
    figures = json.loads(run_script("kv_throughput.py", args, DEADLINE_S))
    assert set(figures) == {"3"} and set(figures["3"]) == CASES
    for case, got in figures["3"].items():
        assert set(got) >= FIGURES, case
        assert got["ops_per_s"] > 0 and 0 < got["p50_ms"] <= got["p99_ms"], (case, got)
        assert got["ops_per_batch"] == 0 or got["ops_per_batch"] >= 2, (case, got)
        assert 10 < got["python_loop_ns"] < 100_000, (case, got)  # a loop of 100 additions
        assert ("floor_ops_per_s" in got) == (case == "write_1"), case
    write_1 = figures["3"]["write_1"]
    assert write_1["floor_ops_per_s"] > 0 and write_1["floor_p50_ms"] > 0, write_1
