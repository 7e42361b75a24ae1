"""Leadership transfer (Raft thesis §3.10): catch the target up, then TIMEOUT_NOW."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from sentinel.raft import MessageType, NotLeader, ProposalDropped, Role

T = MessageType


def test_thesis_3_10_transfer_to_an_up_to_date_follower() -> None:
    c = Cluster(3, seed=1)
    c.elect(1)
    term = c.nodes[1].term
    c.nodes[1].transfer_leadership(2)
    c.deliver_all()
    assert c.leaders() == [2]
    assert c.nodes[2].term == term + 1  # skipped pre-vote, and the others' lease
    c.propose(2, b"x")
    c.deliver_all()
    assert all(c.nodes[i].log.committed == c.nodes[2].log.last_index for i in c.ids)


def test_thesis_3_10_transfer_to_a_lagging_follower_catches_it_up_first() -> None:
    c = Cluster(3, seed=2)
    c.elect(1)
    c.isolate(3)
    for k in range(5):
        c.propose(1, b"%d" % k)
    c.deliver_all()
    c.heal()
    timeouts = []
    c.drop = lambda m: m.type is T.TIMEOUT_NOW and timeouts.append(m) and False
    c.nodes[1].transfer_leadership(3)
    with pytest.raises(ProposalDropped):
        c.propose(1, b"during transfer")
    c.deliver_all()
    assert len(timeouts) == 1
    assert c.leaders() == [3]
    assert c.nodes[3].log.last_index > 6


def test_thesis_3_10_transfer_to_an_unreachable_node_is_abandoned_after_a_timeout() -> None:
    c = Cluster(3, seed=3)
    c.elect(1)
    c.crash(3)
    c.nodes[1].transfer_leadership(3)
    with pytest.raises(ProposalDropped):
        c.propose(1, b"x")
    c.tick_all(c.nodes[1].config.election_ticks + 1)
    assert c.leaders() == [1] and c.nodes[1].lead_transferee == 0
    c.propose(1, b"x")


def test_transfer_on_a_follower_raises_not_leader() -> None:
    c = Cluster(3, seed=4)
    c.elect(1)
    with pytest.raises(NotLeader):
        c.nodes[2].transfer_leadership(3)
    assert c.nodes[1].role is Role.LEADER
