"""Smoke test of benchmarks/write_path.py: a short run cuts most writes into every segment
of the path, the segments' medians add up to about the median latency, and no process the
run started outlives it."""

from __future__ import annotations

import json
from collections.abc import Callable

DEADLINE_S = 180.0  # ~10 s on an idle machine
PATH = ("client_send", "hop_to_leader", "leader_request", "hop_to_follower",
        "follower_before_sync", "follower_sync", "follower_after_sync", "hop_to_leader_ack",
        "leader_ack", "hop_to_client", "client_done")  # fmt: skip
OFF_PATH = ("leader_sync", "ack_waits_for_leader_sync", "latency")


def test_write_path_smoke(run_script: Callable[[str, list[str], float], str]) -> None:
    fig = json.loads(run_script("write_path.py", ["--seconds", "0.5", "--json"], DEADLINE_S))
    assert fig["nodes"] == 3 and fig["ops_per_s"] > 0, fig
    assert fig["writes"] > 0 and 0 <= fig["unmatched"] <= fig["writes"] // 2, fig
    assert tuple(fig["segments"]) == PATH + OFF_PATH
    for name, seg in fig["segments"].items():
        assert seg["p50_us"] >= 0 and seg["mean_us"] >= 0, (name, seg)
    for name in ("follower_sync", "leader_sync", "latency"):
        assert fig["segments"][name]["p50_us"] > 0, name  # an fsync, a write: never free
    # Each write's segments add up to its latency exactly; their medians, about so.
    latency = fig["segments"]["latency"]["p50_us"]
    assert 0.5 * latency <= fig["path_p50_sum_us"] <= 1.5 * latency, fig
