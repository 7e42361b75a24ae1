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


def test_thesis_6_4_1_a_leased_read_is_answered_at_once_without_a_heartbeat_round() -> None:
    c = Cluster(3, seed=4, lease_reads=True)
    c.tick_all(c.nodes[1].config.election_ticks)  # past the start-up vote guard
    c.elect(1)
    c.propose(1, b"w")
    c.deliver_all()
    leader = c.nodes[1]
    leader.read_index(b"r1", lease=True)
    rd = leader.ready()
    assert rd.read_states == (ReadState(leader.log.committed, b"r1"),)
    assert not [m for m in rd.messages if m.type is T.HEARTBEAT]
    leader.advance(rd)


@pytest.mark.parametrize("why", ["config off", "no lease", "transfer under way"])
def test_thesis_6_4_1_without_a_lease_a_read_takes_a_heartbeat_round(why: str) -> None:
    c = Cluster(3, seed=5, lease_reads=why != "config off")
    c.tick_all(c.nodes[1].config.election_ticks)
    c.elect(1)
    c.propose(1, b"w")
    c.deliver_all()
    leader = c.nodes[1]
    if why == "transfer under way":
        c.cut.add(frozenset((1, 2)))  # 2 cannot catch up, so the transfer stays pending
        leader.propose(b"more")
        c.deliver_all()
        leader.transfer_leadership(2)
    leader.read_index(b"r1", lease=why != "no lease")
    rd = leader.ready()
    assert rd.read_states == ()
    assert [m for m in rd.messages if m.type is T.HEARTBEAT]
    leader.advance(rd)


def test_a_leased_read_waits_for_the_leaders_first_commit_like_any_read() -> None:
    c = Cluster(3, seed=6, lease_reads=True)
    c.tick_all(c.nodes[1].config.election_ticks)
    votes = {T.PRE_VOTE, T.PRE_VOTE_RESP, T.VOTE, T.VOTE_RESP}
    c.timeout(1)
    for _ in range(10):  # only the election's messages: its first entry never commits
        c.deliver(lambda m: m.type in votes)
    leader = c.nodes[1]
    assert leader.role is Role.LEADER and not leader.committed_in_current_term()
    leader.read_index(b"r1", lease=True)
    assert leader.ready().read_states == ()


def test_with_lease_reads_a_node_refuses_votes_for_an_election_timeout_after_it_starts() -> None:
    # Node 1 may have granted node 3 a lease just before a crash; a restarted node 1 must
    # not help elect someone else while that lease could still run.
    c = Cluster(3, seed=7, lease_reads=True)
    c.isolate(3)
    c.timeout(2)  # node 2 stands at once, while nodes 1 and 3 have just started
    c.deliver_all()
    assert c.nodes[2].role is not Role.LEADER
    c.tick_all(4 * c.nodes[1].config.election_ticks)  # the guard runs out: 1 and 2 elect
    assert c.leaders() in ([1], [2])
