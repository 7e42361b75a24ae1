"""The simulator must find bugs in the read path: plant them and sweep the seeds.

The kv workload runs the production kv server and client (sentinel/sim/kvserve.py, kv.py).
The isolate-leader profile cuts the leader off from the other nodes and pauses it, as a
stopped process, while they elect a new leader and take writes; it resumes believing it
leads. A correct leader serves no read then: its ReadIndex round cannot complete, and its
lease (shorter than the time a follower refuses to vote) has run out.

1. A leader that serves a read without confirming its leadership (ReadIndex answered at
   once, as if always within a lease).
2. A lease longer than the election timeout: it outlives the leader change.
"""

from __future__ import annotations

import pytest

from sentinel.raft import Config
from sentinel.raft.driver import NodeDriver
from sentinel.sim import SimOptions, kvserve, sweep

READS = SimOptions(nodes=3, sim_seconds=10.0, workload="kv", profile="isolate-leader")
SEEDS = range(0, 8)  # today seeds 1, 2 and 6 find bug 1; seed 1 finds bug 2


def read_at_once(self: NodeDriver, context: bytes, now_s: float) -> None:
    """NodeDriver.read_index that vouches for a lease it does not hold."""
    self.core.read_index(context, lease=True)
    self.reads_asked.add(bytes(context))


def lease_past_the_election(config: Config) -> float:
    """A lease of three election timeouts (a correct one is shorter than one)."""
    return 3 * 2 * config.election_ticks * kvserve.TICK_S


def stale_reads_found(bug: str) -> None:
    """Sweep SEEDS with `bug` planted (by the caller): every failure is a
    linearizability violation named with its seed and a replay command."""
    print(f"isolate-leader kv seeds {SEEDS.start}..{SEEDS.stop - 1} with {bug} planted")
    summary = sweep(SEEDS, READS)
    print(summary.line())
    assert summary.failures, f"the simulator missed {bug}"
    for failure in summary.failures:
        print(f"found by seed {failure.seed}")
        assert failure.seed in SEEDS
        assert failure.what.startswith("linearizability"), failure.what
        assert f"--seed {failure.seed}" in str(failure)


def test_the_read_path_profile_is_clean_without_a_bug() -> None:
    print(f"isolate-leader kv seeds {SEEDS.start}..{SEEDS.stop - 1}")
    summary = sweep(SEEDS, READS)
    print(summary.line())
    assert not summary.failures, "\n\n".join(str(f) for f in summary.failures)
    assert summary.gets_readindex > 0 and summary.gets_lease > 0


def test_sweep_finds_a_read_served_without_confirming_leadership(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(NodeDriver, "read_index", read_at_once)
    stale_reads_found("a ReadIndex answered at once")


def test_sweep_finds_a_lease_that_outlives_a_leader_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kvserve, "lease_s", lease_past_the_election)
    stale_reads_found("a lease of three election timeouts")
