"""Log compaction and InstallSnapshot (Raft §7), and restarting from recovered state."""

from __future__ import annotations

import random

import pytest
from raft_harness import Cluster

from sentinel.raft import Config, Entry, HardState, MessageType, PersistentState, Raft, Role

T = MessageType


def fill(c: Cluster, leader: int, n: int, snapshot_every: int = 0) -> None:
    """Commit n commands; like 6.824's applier, snapshot at indexes 9, 19, ..."""
    for k in range(n):
        c.propose(leader, b"cmd%d" % k)
        c.deliver_all()
        if snapshot_every:
            for i in c.ids:
                applied = c.nodes[i].log.applied
                if i not in c.down and (applied + 1) % snapshot_every == 0:
                    c.compact(i)
            c.process_all()


def test_section_7_compaction_discards_the_log_up_to_the_snapshot() -> None:
    c = Cluster(3, seed=1)
    c.elect(1)
    fill(c, 1, 20)
    node = c.nodes[1]
    assert c.compact(1)
    st = node.status()
    assert st.snapshot_index == st.applied == 21 and st.first_index == 22
    rd = node.ready()
    assert rd.snapshot is not None and rd.snapshot.meta.index == 21 and rd.must_sync
    c.disks[1].save(rd)
    node.advance(rd)
    assert not node.compact(10, b"older")  # not past the last snapshot: ignored
    with pytest.raises(ValueError):
        node.compact(node.log.applied + 1, b"future")  # the state machine is not there yet


def test_section_7_follower_behind_the_log_start_gets_install_snapshot() -> None:
    c = Cluster(3, seed=2)
    c.elect(1)
    c.isolate(3)
    fill(c, 1, 30, snapshot_every=10)
    assert c.nodes[1].log.snapshot_index == 29
    snapshots = []
    c.drop = lambda m: m.type is T.SNAPSHOT and snapshots.append(m) and False
    c.heal()
    c.tick_all(10)
    assert len(snapshots) == 1 and snapshots[0].dst == 3
    assert c.nodes[3].log.snapshot_index == 29
    fill(c, 1, 3)
    assert c.applied[3] == c.applied[1]
    assert c.nodes[3].log.applied == c.nodes[1].log.applied == 34


def test_section_7_lost_snapshot_is_sent_again_after_the_snapshot_timeout() -> None:
    c = Cluster(3, seed=3, snapshot_timeout_ticks=30)
    c.elect(1)
    c.isolate(3)
    fill(c, 1, 12, snapshot_every=10)
    c.heal()
    sent = []

    def lose_first(m):
        if m.type is T.SNAPSHOT:
            sent.append(m)
            return len(sent) == 1
        return False

    c.drop = lose_first
    c.tick_all(60)
    assert len(sent) == 2
    assert c.nodes[3].log.snapshot_index == 9 and c.nodes[3].log.applied == 13


def test_a_snapshot_whose_answer_was_lost_is_not_sent_again() -> None:
    """After the snapshot timeout the leader probes just past the snapshot; a follower that
    did install it accepts the probe, so the (possibly huge) snapshot is not resent."""
    c = Cluster(3, seed=3, snapshot_timeout_ticks=30)
    c.elect(1)
    c.isolate(3)
    fill(c, 1, 12, snapshot_every=10)
    c.heal()
    snapshots, answers_lost = [], []

    def lose_the_answer(m):
        if m.type is T.SNAPSHOT:
            snapshots.append(m)
        if m.src == 3 and m.type is T.APPEND_RESP and snapshots and not answers_lost:
            answers_lost.append(m)
            return True
        return False

    c.drop = lose_the_answer
    c.tick_all(60)
    assert len(snapshots) == 1 and len(answers_lost) == 1
    assert c.nodes[3].log.snapshot_index == 9 and c.nodes[3].log.applied == 13


def test_restart_from_snapshot_applies_from_snapshot_index_plus_one() -> None:
    """6.824 TestSnapshotInstallCrash / SnapshotAllCrash: applies resume at snapshot + 1."""
    c = Cluster(3, seed=4)
    c.elect(1)
    fill(c, 1, 25, snapshot_every=10)
    for i in c.ids:
        c.crash(i)
    for i in c.ids:
        c.restart(i)
        node = c.nodes[i]
        assert node.log.applied == node.log.snapshot_index == 19
        assert c.last_applied[i] == 19  # harness asserts every apply is exactly +1 from here
    c.tick_all(80)
    leader = c.leader()
    index, _ = c.propose(leader, b"after")
    c.deliver_all()
    assert index >= 27  # never decreases across a whole-cluster restart
    for i in c.ids:
        assert c.applied[i][index] == b"after"
        assert c.applied[i][26] == b"cmd24"


def test_restart_without_snapshot_reapplies_the_log_from_index_one() -> None:
    c = Cluster(3, seed=5)
    c.elect(1)
    fill(c, 1, 5)
    c.crash(2)
    c.restart(2)
    assert c.nodes[2].log.applied == 0 and c.nodes[2].log.committed == 6
    c.process_all()
    assert c.last_applied[2] == 6


def test_core_built_from_recovered_state_checks_it() -> None:
    cfg = Config(node_id=1, peer_ids=(1, 2, 3))
    entries = (Entry(1, 1, b"a"), Entry(2, 2, b"b"))
    core = Raft(cfg, random.Random(0), PersistentState(HardState(2, 2, 9), entries=entries))
    st = core.status()
    assert (st.term, st.vote, st.commit, st.last_index) == (2, 2, 2, 2)  # commit clamped
    assert st.role is Role.FOLLOWER
    with pytest.raises(ValueError):  # the log cannot be ahead of the term
        Raft(cfg, random.Random(0), PersistentState(HardState(1, 0, 0), entries=entries))
    with pytest.raises(ValueError):  # the entries must be contiguous
        Raft(cfg, random.Random(0), PersistentState(HardState(2), entries=entries[1:]))
