"""Each invariant check catches a hand-made violation (and accepts the healthy state)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import pytest

from sentinel.raft import (
    Config,
    Entry,
    EntryKind,
    HardState,
    PersistentState,
    Raft,
    Role,
    Snapshot,
    SnapshotMeta,
)
from sentinel.sim import (
    DurableLog,
    InvariantChecker,
    InvariantViolation,
    LivenessProbe,
    SimCluster,
    check_log_matching,
)

IDS = (1, 2, 3, 4, 5)


def E(index: int, term: int, data: bytes = b"") -> Entry:
    return Entry(term, index, data or f"x{index}.{term}".encode(), EntryKind.NORMAL)


def core(node_id: int, entries: list[Entry], commit: int = 0, term: int = 0) -> Raft:
    term = max([term] + [e.term for e in entries])
    state = PersistentState(HardState(term, 0, commit), None, tuple(entries))
    return Raft(Config(node_id, IDS), random.Random(node_id), state)


def started(checker: InvariantChecker, node_id: int, entries: list[Entry]) -> None:
    checker.node_started(node_id, None, entries)


def test_two_leaders_in_one_term_are_caught() -> None:
    checker = InvariantChecker(IDS)
    checker.observe_leader(1, 3)
    checker.observe_leader(1, 3)  # the same leader again is fine
    checker.observe_leader(2, 4)
    with pytest.raises(InvariantViolation, match=r"election safety.*term 3.*nodes 1 and 2"):
        checker.observe_leader(2, 3)


def test_two_entries_with_one_name_are_caught() -> None:
    checker = InvariantChecker(IDS)
    checker.observe_persist(1, 0, (E(1, 1, b"a"), E(2, 1, b"b")))
    checker.observe_persist(2, 0, (E(1, 1, b"a"),))  # a prefix of the same log is fine
    with pytest.raises(InvariantViolation, match="log matching"):
        checker.observe_persist(3, 0, (E(1, 1, b"other"),))
    with pytest.raises(InvariantViolation, match="log matching"):
        checker.observe_persist(3, 2, (E(2, 1, b"b"),))  # same entry, other predecessor


def test_literal_log_matching_over_live_logs() -> None:
    good = {1: core(1, [E(1, 1), E(2, 2)]), 2: core(2, [E(1, 1), E(2, 2), E(3, 2)])}
    check_log_matching(good)
    # Same (index 2, term 2) but different entries at index 1: the property fails.
    bad = {1: core(1, [E(1, 1, b"a"), E(2, 2, b"z")]), 2: core(2, [E(1, 1, b"b"), E(2, 2, b"z")])}
    with pytest.raises(InvariantViolation, match=r"log matching.*differ at index 1"):
        check_log_matching(bad)


def test_check_cluster_catches_an_unregistered_divergent_log() -> None:
    checker = InvariantChecker(IDS)
    started(checker, 1, [E(1, 1, b"a"), E(2, 2, b"z")])
    cores = {1: core(1, [E(1, 1, b"a"), E(2, 2, b"z")])}
    checker.check_cluster(cores)
    cores[2] = core(2, [E(1, 1, b"b"), E(2, 2, b"z")])  # never persisted through a Ready
    with pytest.raises(InvariantViolation, match="log matching"):
        checker.check_cluster(cores)


def test_a_changed_committed_entry_is_caught() -> None:
    checker = InvariantChecker(IDS)
    checker.observe_commit(1, E(5, 2, b"a"))
    checker.observe_commit(2, E(5, 2, b"a"))
    with pytest.raises(InvariantViolation, match="committed entry changed"):
        checker.observe_commit(3, E(5, 3, b"b"))


def test_check_node_sees_commits_and_catches_a_conflicting_one() -> None:
    checker = InvariantChecker(IDS)
    a = core(1, [E(1, 1, b"a"), E(2, 1, b"b")], commit=2)
    started(checker, 1, [E(1, 1, b"a"), E(2, 1, b"b")])
    checker.check_node(1, a)
    assert checker.commit_max == 2 and checker.committed[2].data == b"b"
    b = core(2, [E(1, 1, b"a"), E(2, 2, b"c")], commit=2)
    started(checker, 2, [E(1, 1, b"a"), E(2, 2, b"c")])
    with pytest.raises(InvariantViolation, match="committed entry changed"):
        checker.check_node(2, b)


def test_bounds_applied_committed_last() -> None:
    checker = InvariantChecker(IDS)
    log = SimpleNamespace(applied=5, committed=4, last_index=9, snapshot_index=0)
    fake = SimpleNamespace(log=log, role=Role.FOLLOWER, term=1)
    with pytest.raises(InvariantViolation, match="bounds"):
        checker.check_node(1, fake)  # type: ignore[arg-type]
    log = SimpleNamespace(applied=1, committed=10, last_index=9, snapshot_index=0)
    with pytest.raises(InvariantViolation, match="bounds"):
        checker.check_node(1, SimpleNamespace(log=log, role=Role.FOLLOWER, term=1))  # type: ignore[arg-type]


def test_a_new_leader_missing_a_committed_entry_is_caught() -> None:
    checker = InvariantChecker(IDS)
    for index, term in ((1, 1), (2, 1), (3, 2)):
        checker.observe_commit(1, E(index, term))
    checker.check_leader_completeness(2, core(2, [E(1, 1), E(2, 1), E(3, 2), E(4, 3)]))
    with pytest.raises(InvariantViolation, match=r"leader completeness.*last index 2"):
        checker.check_leader_completeness(3, core(3, [E(1, 1), E(2, 1)], term=3))
    with pytest.raises(InvariantViolation, match=r"leader completeness.*index 3"):
        checker.check_leader_completeness(4, core(4, [E(1, 1), E(2, 1), E(3, 3), E(4, 3)]))
    # A leader of an old term that shows up late (its votes were in flight) need not hold
    # what later terms committed.
    checker.check_leader_completeness(5, core(5, [E(1, 1), E(2, 1)], term=2))


def test_a_committed_entry_on_too_few_disks_is_caught() -> None:
    checker = InvariantChecker(IDS)
    checker.observe_commit(1, E(1, 1))
    checker.observe_commit(1, E(2, 1))
    holders = {1: core(1, [E(1, 1), E(2, 1)]), 2: core(2, [E(1, 1), E(2, 1)])}
    down = {3: DurableLog(SnapshotMeta(2, 1), ())}  # a crashed node whose snapshot covers it
    checker.check_durability(holders, down)
    short = {4: DurableLog(SnapshotMeta(), (E(1, 1),)), 5: DurableLog(SnapshotMeta(), ())}
    with pytest.raises(InvariantViolation, match=r"committed entry lost.*nodes \[1, 2\]"):
        checker.check_durability(holders, short)


def test_applied_sequences_must_share_one_prefix() -> None:
    checker = InvariantChecker(IDS)
    started(checker, 1, [])
    started(checker, 2, [])
    checker.observe_apply(1, E(1, 1, b"a"))
    checker.observe_apply(2, E(1, 1, b"a"))
    checker.observe_apply(1, E(2, 1, b"b"))
    with pytest.raises(InvariantViolation, match=r"state machine safety.*index 2"):
        checker.observe_apply(2, E(2, 1, b"not b"))
    with pytest.raises(InvariantViolation, match="applies index 5, expected 3"):
        checker.observe_apply(1, E(5, 1))  # a gap


def test_different_snapshots_at_one_index_are_caught() -> None:
    checker = InvariantChecker(IDS)
    checker.observe_snapshot(1, Snapshot(SnapshotMeta(10, 2), b"state"))
    checker.observe_snapshot(2, Snapshot(SnapshotMeta(10, 2), b"state"))
    with pytest.raises(InvariantViolation, match="snapshot at index 10 differs"):
        checker.observe_snapshot(3, Snapshot(SnapshotMeta(10, 2), b"other state"))


def test_a_snapshot_contradicting_a_commit_is_caught() -> None:
    checker = InvariantChecker(IDS)
    checker.observe_commit(1, E(4, 2))
    with pytest.raises(InvariantViolation, match="committed entry changed"):
        checker.observe_snapshot(2, Snapshot(SnapshotMeta(4, 3), b"s"))


def test_liveness_probe_fails_without_a_quorum() -> None:
    print("seed 1")
    cluster = SimCluster(seed=1, nodes=3)
    probe = LivenessProbe(start_us=500_000, bound_us=1_000_000)
    cluster.run_until(400_000, [probe])
    for i in (1, 2):
        cluster.crash(i)
    with pytest.raises(InvariantViolation, match="liveness"):
        cluster.run_until(3_000_000, [probe])


def test_liveness_probe_succeeds_on_a_healthy_cluster() -> None:
    print("seed 2")
    cluster = SimCluster(seed=2, nodes=3)
    probe = LivenessProbe(start_us=0, bound_us=2_000_000)
    cluster.run_until(2_500_000, [probe])
    assert 0 < probe.done_us < 2_000_000
