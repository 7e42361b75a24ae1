"""Leader election (Raft §5.2, §5.4.1), pre-vote (thesis §9.6) and check-quorum (§6.2)."""

from __future__ import annotations

import pytest
from raft_harness import Cluster

from sentinel.raft import NONE, Message, MessageType, Role, election, follower, leader

T = MessageType


def test_section_5_2_initial_election_elects_exactly_one_leader_known_to_all() -> None:
    c = Cluster(3, seed=1)
    c.tick_all(60)
    (leader,) = c.leaders()
    term = c.nodes[leader].term
    assert term == 1  # pre-vote: no term is burnt by failed pre-elections
    for i in c.ids:
        assert c.nodes[i].term == term
        assert c.nodes[i].lead == leader


def test_section_5_2_split_vote_is_resolved_by_randomised_timeouts() -> None:
    c = Cluster(4, seed=7, pre_vote=False)
    c.timeout(1)
    c.timeout(2)
    assert c.nodes[1].role is Role.CANDIDATE and c.nodes[2].role is Role.CANDIDATE
    # Node 3 hears node 1 first, node 4 hears node 2 first: 2 votes each, quorum is 3.
    c.deliver(lambda m: m.type is T.VOTE and (m.src, m.dst) in {(1, 3), (2, 4)})
    c.deliver(lambda m: m.type is T.VOTE)
    c.deliver_all()
    assert not c.leaders()
    c.tick_all(80)
    (leader,) = c.leaders()
    assert c.nodes[leader].term >= 2


def test_section_5_2_one_vote_per_term_first_come_first_served() -> None:
    c = Cluster(3, seed=2)
    node = c.nodes[1]
    node.step(Message(T.VOTE, 2, 1, term=1))
    node.step(Message(T.VOTE, 3, 1, term=1))
    rd = node.ready()
    answers = {m.dst: m.reject for m in rd.messages}
    assert answers == {2: False, 3: True}
    assert rd.hard_state is not None and rd.hard_state.vote == 2
    assert rd.must_sync  # the vote must be on disk before the answer leaves


def test_section_5_4_1_candidate_with_a_less_up_to_date_log_is_refused() -> None:
    c = Cluster(3, seed=3)
    c.elect(1)
    c.propose(1, b"x")
    c.deliver_all()
    c.isolate(1)
    c.tick(2, c.nodes[2].config.election_ticks)  # the leader's lease runs out
    fresh = c.nodes[2]
    fresh.step(Message(T.VOTE, 3, 2, term=9, index=1, log_term=1))  # misses index 2
    rd = fresh.ready()
    (answer,) = [m for m in rd.messages if m.type is T.VOTE_RESP]
    assert answer.reject


def test_thesis_9_6_pre_vote_stops_a_rejoining_partitioned_node_from_disrupting() -> None:
    c = Cluster(3, seed=4)
    c.elect(1)
    term = c.nodes[1].term
    c.isolate(3)
    c.tick_all(200)  # node 3 times out again and again, but only pre-votes
    assert c.nodes[3].term == term
    c.heal()
    c.tick_all(100)
    assert c.leaders() == [1]
    assert all(c.nodes[i].term == term for i in c.ids)


def test_without_pre_vote_a_rejoining_node_does_disrupt_the_leader() -> None:
    # The contrast to the test above: this is what pre-vote and check-quorum prevent.
    c = Cluster(3, seed=4, pre_vote=False, check_quorum=False)
    c.elect(1)
    term = c.nodes[1].term
    c.isolate(3)
    c.tick_all(200)
    assert c.nodes[3].term > term
    c.heal()
    c.tick_all(5)
    assert c.nodes[1].term > term  # the healthy leader was deposed


def test_thesis_6_2_check_quorum_leader_steps_down_without_a_quorum() -> None:
    c = Cluster(3, seed=5)
    c.elect(1)
    c.isolate(1)
    # At most two check rounds: the round under way may have heard from followers already.
    c.tick(1, 2 * c.nodes[1].config.election_ticks)
    assert c.nodes[1].role is Role.FOLLOWER
    assert c.nodes[1].lead == NONE


def test_section_5_2_lone_server_never_becomes_leader() -> None:
    c = Cluster(3, seed=6)
    c.elect(1)
    c.crash(1)
    c.isolate(2)
    c.tick_all(300)
    assert c.leaders() == []
    c.heal()
    c.tick_all(100)
    assert len(c.leaders()) == 1


def test_thesis_6_2_vote_requests_inside_the_leader_lease_are_ignored() -> None:
    c = Cluster(3, seed=8)
    c.elect(1)
    c.nodes[2].step(Message(T.VOTE, 3, 2, term=50, index=99, log_term=49))
    assert c.nodes[2].term == 1
    rd = c.nodes[2].ready()
    assert not [m for m in rd.messages if m.type is T.VOTE_RESP]


def test_section_5_2_new_leader_after_leader_crash_and_old_leader_rejoins_as_follower() -> None:
    c = Cluster(5, seed=9)
    c.elect(1)
    c.crash(1)
    c.tick_all(100)
    (leader,) = c.leaders()
    assert leader != 1
    c.restart(1)
    c.tick_all(50)
    assert c.leaders() == [leader]
    assert c.nodes[1].lead == leader


@pytest.mark.parametrize("seed", range(2))
def test_section_5_2_elections_under_repeated_partitions_keep_one_leader_per_term(
    seed: int,
) -> None:
    print("seed", seed)
    c = Cluster(7, seed=seed)
    leaders_by_term: dict[int, int] = {}
    c.tick_all(60)
    for _ in range(9):
        isolated = c.rng.sample(list(c.ids), 3)
        for i in isolated:
            c.isolate(i)
        for _ in range(120):
            c.tick_all(1)
            for i in c.leaders():
                assert leaders_by_term.setdefault(c.nodes[i].term, i) == i
        connected = [i for i in c.ids if i not in isolated]
        assert any(c.nodes[i].role is Role.LEADER for i in connected)
        c.heal()


def test_each_role_steps_and_ticks_with_its_own_functions() -> None:
    """`become_*` point `role_step` / `role_tick` at the role's functions (as etcd's
    raft.go), through a whole life: pre-candidate, candidate, leader, deposed follower."""
    expected = {
        Role.FOLLOWER: (follower.step_follower, election.tick_election),
        Role.PRE_CANDIDATE: (election.step_candidate, election.tick_election),
        Role.CANDIDATE: (election.step_candidate, election.tick_election),
        Role.LEADER: (leader.step_leader, leader.tick_heartbeat),
    }
    c = Cluster(3, seed=4)
    node = c.nodes[1]
    seen = []

    def check() -> None:
        assert (node.role_step, node.role_tick) == expected[node.role], node.role
        seen.append(node.role)

    check()
    c.timeout(1)
    check()
    c.deliver(lambda m: m.type in (T.PRE_VOTE, T.PRE_VOTE_RESP))
    c.deliver(lambda m: m.type is T.PRE_VOTE_RESP)
    check()
    c.deliver_all()
    check()
    node.step(Message(T.HEARTBEAT, 2, 1, term=node.term + 1))
    check()
    assert seen == [Role.FOLLOWER, Role.PRE_CANDIDATE, Role.CANDIDATE, Role.LEADER, Role.FOLLOWER]
