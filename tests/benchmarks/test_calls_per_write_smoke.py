"""Smoke test of benchmarks/calls_per_write.py: a short run of this tree counts the calls of
every process of the cluster and of the client, and no process the run started outlives it."""

from __future__ import annotations

import json
from collections.abc import Callable

DEADLINE_S = 180.0  # ~20 s on an idle machine
PROCESSES = ("client", "supervisor", "router", "leader", "follower_lazy", "follower_on_path")


def test_calls_per_write_smoke(run_script: Callable[[str, list[str], float], str]) -> None:
    args = ["--rounds", "1", "--writes", "200", "--interval-ms", "5", "--json"]
    figures = json.loads(run_script("calls_per_write.py", args, DEADLINE_S))
    assert set(figures) == {"this"}, figures
    got = {name: fig["median"] for name, fig in figures["this"].items()}
    assert set(PROCESSES) <= set(got), got
    # A write is a put in the client and an append, a commit and a reply in the leader:
    # hundreds of calls each (a hook that counted nothing would read about 0).
    assert got["client"] > 50 and got["leader"] > 100 and got["router"] > 20, got
    assert got["follower_on_path"] > 20, got
    assert abs(got["total"] - sum(got[p] for p in PROCESSES)) < 1e-6, got
    assert got["profiled_writes_per_s"] > 0, got
