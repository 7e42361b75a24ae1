"""Log replication (Raft §5.3), commitment (§5.4.2, Figure 8), fast back-up, flow control."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from sentinel.raft import (
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    NotLeader,
    PersistentState,
    ProposalDropped,
    Role,
)

T = MessageType


def e(term: int, index: int, data: bytes = b"") -> Entry:
    return Entry(term, index, data or b"t%d-i%d" % (term, index))


def test_section_5_3_committed_entries_reach_every_follower_in_order() -> None:
    c = Cluster(3, seed=1)
    c.elect(1)
    for k in range(1, 4):
        assert 1 + k not in c.applied[2]
        index, term = c.propose(1, b"cmd%d" % k)
        assert (index, term) == (1 + k, 1)
        c.deliver_all()
    for i in c.ids:
        assert [c.applied[i][k] for k in (2, 3, 4)] == [b"cmd1", b"cmd2", b"cmd3"]


def test_section_8_new_leader_appends_an_empty_entry_of_its_term_at_once() -> None:
    c = Cluster(3, seed=2)
    c.elect(1)
    node = c.nodes[1]
    last = node.log.entry(node.log.last_index)
    assert last.kind is EntryKind.EMPTY and last.term == node.term


def test_propose_on_a_follower_raises_not_leader_with_a_hint() -> None:
    c = Cluster(3, seed=3)
    c.elect(1)
    with pytest.raises(NotLeader) as info:
        c.propose(2, b"x")
    assert info.value.leader_hint == 1


def test_proposals_before_the_next_ready_travel_in_one_batch() -> None:
    c = Cluster(3, seed=4)
    c.elect(1)
    for k in range(5):
        c.propose(1, b"p%d" % k)
    rd = c.nodes[1].ready()
    appends = [m for m in rd.messages if m.type is T.APPEND]
    assert sorted(m.dst for m in appends) == [2, 3]
    assert all(len(m.entries) == 5 for m in appends)
    assert len(rd.entries) == 5 and rd.must_sync
    c.disks[1].save(rd)
    c.nodes[1].advance(rd)


def test_section_5_3_follower_conflicting_suffix_is_overwritten_by_the_leader() -> None:
    c = Cluster(3, seed=5)
    c.elect(1)
    c.propose(1, b"a")
    c.deliver_all()
    c.isolate(1)
    for k in range(3):
        c.propose(1, b"stale%d" % k)  # never committed: no quorum
    c.deliver_all()
    c.tick_all(100)
    leader = c.leader()
    assert leader != 1
    c.propose(leader, b"b")
    c.deliver_all()
    c.heal()
    c.tick_all(30)
    c.propose(c.leader(), b"c")
    c.deliver_all()
    assert c.logs_equal(1, 2, 3)
    assert b"stale0" not in c.applied[1].values()
    assert [c.applied[1][k] for k in sorted(c.applied[1]) if c.applied[1][k]] == [
        b"a",
        b"b",
        b"c",
    ]


def test_fast_backup_needs_few_rejections_over_long_conflicting_logs() -> None:
    """6.824 TestBackup: 50 uncommitted entries on one side, 50 committed on the other."""
    c = Cluster(5, seed=6)
    rejects: list[Message] = []

    def spy(m: Message) -> bool:
        if m.type is T.APPEND_RESP and m.reject:
            rejects.append(m)
        return False

    c.drop = spy
    c.elect(1)
    for i in (3, 4, 5):
        c.isolate(i)
    c.cut.discard(frozenset((1, 2)))
    for k in range(50):
        c.propose(1, b"lost%d" % k)
    c.deliver_all()
    c.heal()
    c.isolate(1)
    c.isolate(2)
    c.cut -= {frozenset(p) for p in ((3, 4), (3, 5), (4, 5))}
    c.tick_all(100)
    leader = c.leader()
    assert leader in (3, 4, 5)
    for k in range(50):
        c.propose(leader, b"kept%d" % k)
    c.deliver_all()
    rejects.clear()
    c.heal()
    c.tick_all(20)
    assert c.logs_equal(*c.ids)
    # One or two rejections per follower that had a conflicting term, never one per entry.
    assert len([m for m in rejects if m.src in (1, 2)]) <= 4


def figure8_states() -> dict[int, PersistentState]:
    """Raft paper Figure 8 (c): index 2 of term 2 is on S1, S2; S5 holds index 2 of term 3."""
    one = e(1, 1)
    return {
        1: PersistentState(HardState(3, 0, 1), entries=(one, e(2, 2))),
        2: PersistentState(HardState(3, 0, 1), entries=(one, e(2, 2))),
        3: PersistentState(HardState(3, 5, 1), entries=(one,)),
        4: PersistentState(HardState(3, 5, 1), entries=(one,)),
        5: PersistentState(HardState(3, 5, 1), entries=(one, e(3, 2))),
    }


def test_figure8_leader_does_not_commit_previous_term_entry_by_counting() -> None:
    c = Cluster(5, seed=7, states=figure8_states(), max_msg_entries=1)
    c.isolate(4)
    c.isolate(5)
    # S3 gets the term-2 entry at index 2, but never S1's term-4 entry at index 3.
    c.drop = lambda m: (
        m.type is T.APPEND
        and m.dst == 3
        and any(x.term == 4 for x in m.entries)
        and c.nodes[3].log.last_index >= 2
    )
    c.elect(1)
    assert c.nodes[1].term == 4
    c.tick_all(10)
    node = c.nodes[1]
    match = node.status().match
    assert (match[1], match[2], match[3]) == (3, 3, 2)  # index 2 is on S1, S2, S3...
    assert node.log.committed == 1  # ...but not committed: it is not of the leader's term
    assert all(2 not in c.applied[i] for i in c.ids)
    # Figure 8 (d): S1 crashes; S5 (last term 3) is elected and overwrites index 2.
    c.crash(1)
    c.drop = lambda m: False
    c.heal()
    c.isolate(2)
    c.tick_all(150)
    assert c.leader() == 5
    c.heal()
    c.propose(5, b"after")
    c.tick_all(10)  # heartbeats resume the probe to S2, paused while it was cut off
    for i in (2, 3, 4, 5):
        assert c.nodes[i].log.term(2) == 3
        assert c.applied[i][2] == b"t3-i2"


def test_figure8_previous_term_entry_commits_with_an_entry_of_the_current_term() -> None:
    c = Cluster(5, seed=8, states=figure8_states())
    c.isolate(4)
    c.isolate(5)
    c.elect(1)
    c.deliver_all()
    node = c.nodes[1]
    assert node.log.committed == 3  # index 2 (term 2) commits together with index 3 (term 4)
    assert c.applied[2][2] == b"t2-i2"


def test_flow_control_append_messages_respect_max_msg_bytes_and_entries() -> None:
    c = Cluster(3, seed=9, max_msg_bytes=300, max_entry_bytes=200)
    c.elect(1)
    for _ in range(10):
        c.propose(1, b"x" * 100)  # 124 bytes each with the overhead
    seen: list[Message] = []
    c.drop = lambda m: seen.append(m) and False
    c.deliver_all()
    appends = [m for m in seen if m.type is T.APPEND and m.entries]
    assert appends and all(sum(x.size_bytes for x in m.entries) <= 300 for m in appends)
    assert all(len(m.entries) <= 2 for m in appends)
    assert c.nodes[2].log.committed == 11


def test_an_entry_bigger_than_max_msg_bytes_travels_alone() -> None:
    c = Cluster(3, seed=9, max_msg_bytes=100, max_entry_bytes=1000)
    c.elect(1)
    c.propose(1, b"small")
    c.propose(1, b"x" * 900)
    c.propose(1, b"small")
    seen: list[Message] = []
    c.drop = lambda m: seen.append(m) and False
    c.deliver_all()
    big = [m for m in seen if m.type is T.APPEND and any(len(e.data) == 900 for e in m.entries)]
    assert big and all(len(m.entries) == 1 for m in big)
    assert c.nodes[2].log.committed == c.nodes[3].log.committed == 4
    assert c.logs_equal(1, 2, 3)


def test_flow_control_inflight_window_is_bounded_by_count() -> None:
    c = Cluster(3, seed=10, max_inflight_msgs=2, max_msg_entries=1)
    c.elect(1)
    for k in range(10):
        c.propose(1, b"%d" % k)
    rd = c.nodes[1].ready()
    for dst in (2, 3):
        assert len([m for m in rd.messages if m.type is T.APPEND and m.dst == dst]) == 2
    c.disks[1].save(rd)
    for m in rd.messages:
        c.queue.append(m)
    c.nodes[1].advance(rd)
    c.deliver_all()
    assert all(c.nodes[i].log.committed == 11 for i in c.ids)


def test_flow_control_uncommitted_bytes_limit_drops_proposals() -> None:
    c = Cluster(3, seed=11, max_uncommitted_bytes=1000, max_entry_bytes=500, max_msg_bytes=500)
    c.elect(1)
    c.isolate(1)
    c.propose(1, b"x" * 400)
    c.propose(1, b"x" * 400)
    with pytest.raises(ProposalDropped):
        c.propose(1, b"x" * 400)
    with pytest.raises(ProposalDropped):
        c.propose(1, b"x" * 501)  # over max_entry_bytes


def test_flow_control_committed_entries_per_ready_are_bounded() -> None:
    c = Cluster(1, seed=12, max_committed_entries_per_ready=3)
    c.timeout(1)
    assert c.nodes[1].role is Role.LEADER
    for k in range(10):
        c.propose(1, b"%d" % k)
    sizes = []
    node = c.nodes[1]
    while node.has_ready():
        rd = node.ready()
        sizes.append(len(rd.committed_entries))
        c.disks[1].save(rd)
        for x in rd.committed_entries:
            c.apply(1, x)
        node.advance(rd)
    assert max(sizes) == 3 and sum(sizes) == 11


def test_step_rejects_garbage_without_changing_state() -> None:
    from sentinel.raft import InvalidMessage

    c = Cluster(3, seed=13)
    c.elect(1)
    before = c.nodes[2].status()
    bad = [
        Message(T.APPEND, 1, 3, 1),  # wrong recipient
        Message(T.APPEND, 0, 2, 1),  # no node's id (an id unknown to us may be a new member)
        Message(T.APPEND, 1, 2, 1, index=1, entries=(e(1, 5),)),  # gap
        Message(T.APPEND, 1, 2, 1, index=1, entries=(e(7, 2),)),  # entry from the future
        Message(T.SNAPSHOT, 1, 2, 1),  # no snapshot
    ]
    for m in bad:
        with pytest.raises(InvalidMessage):
            c.nodes[2].step(m)
    assert c.nodes[2].status() == before
