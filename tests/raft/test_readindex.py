"""ReadIndex (Raft thesis §6.4): linearizable reads without writing the log."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from sentinel.raft import MessageType, NotLeader, ProposalDropped, ReadState, Role

T = MessageType


def test_thesis_6_4_read_index_is_released_only_after_a_quorum_heartbeat_round() -> None:
    c = Cluster(3, seed=1)
    c.elect(1)
    c.propose(1, b"w")
    c.deliver_all()
    c.nodes[1].read_index(b"r1")
    rd = c.nodes[1].ready()
    assert rd.read_states == ()
    heartbeats = [m for m in rd.messages if m.type is T.HEARTBEAT]
    assert sorted(m.dst for m in heartbeats) == [2, 3]
    assert all(m.context == b"r1" for m in heartbeats)
    c.nodes[1].advance(rd)
    c.nodes[2].step(heartbeats[0] if heartbeats[0].dst == 2 else heartbeats[1])
    (ack,) = c.nodes[2].ready().messages
    c.nodes[1].step(ack)
    assert c.nodes[1].ready().read_states == (ReadState(2, b"r1"),)


def test_thesis_6_4_reads_queued_before_an_acked_round_are_released_with_it() -> None:
    c = Cluster(3, seed=2)
    c.elect(1)
    for k in range(3):
        c.nodes[1].read_index(b"r%d" % k)
    c.deliver_all()
    assert [r.context for r in c.reads[1]] == [b"r0", b"r1", b"r2"]
    assert all(r.index == c.nodes[1].log.committed for r in c.reads[1])


def test_thesis_6_4_deposed_leader_never_answers_a_read_with_a_stale_index() -> None:
    c = Cluster(3, seed=3)
    c.elect(1)
    c.isolate(1)
    c.tick_all(100, deliver=True)
    new = c.leader()
    assert new != 1
    index, _ = c.propose(new, b"newer write")
    c.deliver_all()
    old = c.nodes[1]
    if old.role is Role.LEADER:  # check-quorum may already have deposed it
        old.read_index(b"stale?")
    c.tick_all(40)
    assert c.reads[1] == []  # no quorum ever confirmed the old leader
    c.heal()
    c.tick_all(40)
    assert c.reads[1] == []
    assert old.role is Role.FOLLOWER and c.applied[1][index] == b"newer write"


def test_thesis_6_4_new_leader_defers_reads_until_it_commits_an_entry_of_its_term() -> None:
    c = Cluster(3, seed=4)
    c.elect(1)
    c.propose(1, b"w")
    c.deliver_all()
    # Hand leadership to 2, delivering only the election: its empty entry is not committed.
    c.nodes[1].transfer_leadership(2)
    c.deliver(lambda m: m.type is T.TIMEOUT_NOW)
    c.deliver(lambda m: m.type is T.VOTE)
    c.deliver(lambda m: m.type is T.VOTE_RESP)
    node = c.nodes[2]
    assert node.role is Role.LEADER
    assert not node.committed_in_current_term()
    node.read_index(b"early")
    rd = node.ready()
    assert rd.read_states == () and not [m for m in rd.messages if m.type is T.HEARTBEAT]
    c.disks[2].save(rd)
    c.queue.extend(rd.messages)
    node.advance(rd)
    c.deliver_all()
    assert c.reads[2] == [ReadState(node.log.committed, b"early")]
    assert node.log.term(c.reads[2][0].index) == node.term  # covers the new term's entry


def test_read_index_on_a_follower_raises_not_leader_and_limits_hold() -> None:
    c = Cluster(3, seed=5, max_pending_reads=2)
    c.elect(1)
    with pytest.raises(NotLeader) as info:
        c.nodes[2].read_index(b"x")
    assert info.value.leader_hint == 1
    c.nodes[1].read_index(b"a")
    with pytest.raises(ValueError):
        c.nodes[1].read_index(b"a")  # duplicate context
    c.nodes[1].read_index(b"b")
    with pytest.raises(ProposalDropped):
        c.nodes[1].read_index(b"c")


def test_single_node_read_index_is_immediate() -> None:
    c = Cluster(1, seed=6)
    c.timeout(1)
    c.process_all()
    c.nodes[1].read_index(b"solo")
    c.process_all()
    assert c.reads[1] == [ReadState(1, b"solo")]
