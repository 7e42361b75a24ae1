"""Membership changes in the core (dissertation ch. 4): learners, single-server changes one
at a time after the leader's own-term commit, compare and set, configurations in effect
when appended and carried by snapshots, automatic promotion, a removed leader handing
over, removed nodes that never campaign, ids never reused."""

from __future__ import annotations

import random

import pytest
from raft_harness import Cluster

from sentinel.raft import (
    ConfChangeOp,
    ConfChangeRefused,
    Config,
    Entry,
    EntryKind,
    HardState,
    Membership,
    MessageType,
    NotLeader,
    PersistentState,
    Raft,
    Role,
)
from sentinel.raft.membership import app_data, unwrap_snapshot, wrap_snapshot

ADD, PROMOTE, REMOVE = ConfChangeOp.ADD_LEARNER, ConfChangeOp.PROMOTE, ConfChangeOp.REMOVE


def settle(c: Cluster, ticks: int = 40) -> None:
    c.tick_all(ticks)
    c.deliver_all()


def grown(auto_promote: bool = True) -> Cluster:
    """Three founders, node 1 leading, node 4 joined and caught up (maybe promoted)."""
    c = Cluster(3, seed=5, auto_promote=auto_promote, learner_caught_up_ticks=5)
    c.elect(1)
    c.propose(1, b"x")
    c.deliver_all()
    c.add_node(4)
    c.nodes[1].change_membership(ADD, 4)
    c.deliver_all()
    settle(c)
    return c


def test_membership_encodes_and_refuses_bad_changes() -> None:
    conf = Membership.bootstrap((1, 2, 3))
    assert conf.quorum == 2 and conf.id_max == 3
    added = conf.changed(ADD, 4)
    assert added.learners == (4,) and added.voters == (1, 2, 3) and added.quorum == 2
    assert Membership.decode(added.encode(), 9) == Membership((1, 2, 3), (4,), 9, 4)
    assert added.changed(PROMOTE, 4).voters == (1, 2, 3, 4)
    for bad in [(ADD, 3), (ADD, 2), (PROMOTE, 1), (REMOVE, 7)]:
        with pytest.raises(ValueError):
            added.changed(*bad)
    with pytest.raises(ValueError, match="last voter"):
        Membership.bootstrap((1,)).changed(REMOVE, 1)
    removed = added.changed(REMOVE, 4)
    with pytest.raises(ValueError, match="never reused"):
        removed.changed(ADD, 4)
    for garbage in [b"", b"x;1;", b"3;;4", b"3;1,1;", b"2;1,2,3;"]:
        with pytest.raises(ValueError):
            Membership.decode(garbage, 1)


def test_snapshot_data_carries_the_configuration() -> None:
    conf = Membership((1, 2), (5,), 12, 5)
    data = wrap_snapshot(conf, b"app")
    assert unwrap_snapshot(data) == (conf, b"app") and app_data(data) == b"app"
    assert unwrap_snapshot(b"plain") == (None, b"plain")
    assert wrap_snapshot(Membership(), b"app") == b"app"  # a joiner that knows none yet


def test_a_learner_gets_the_log_but_no_vote_and_is_promoted_once_caught_up() -> None:
    c = grown(auto_promote=False)
    lead = c.nodes[1]
    assert lead.membership.learners == (4,) and c.nodes[4].membership.learners == (4,)
    assert c.last_applied[4] == lead.log.committed
    assert lead.quorum == 2  # a learner does not count
    # The learner never campaigns, however long it hears nothing.
    c.isolate(4)
    c.tick(4, 200)
    assert c.nodes[4].role is Role.FOLLOWER and c.nodes[4].term == lead.term
    c.heal()
    # Automatic promotion: leader's match bound held for learner_caught_up_ticks.
    c2 = grown(auto_promote=True)
    assert c2.nodes[1].membership.voters == (1, 2, 3, 4)
    assert c2.nodes[1].quorum == 3 and c2.nodes[4].membership.voters == (1, 2, 3, 4)


def test_no_promotion_before_the_learner_caught_up() -> None:
    c = Cluster(3, seed=6, learner_caught_up_ticks=5, max_learner_lag_entries=2)
    c.elect(1)
    c.add_node(4)
    c.nodes[1].change_membership(ADD, 4)
    c.isolate(4)  # it cannot catch up
    for k in range(10):
        c.propose(1, b"%d" % k)
    settle(c, 60)
    assert c.nodes[1].membership.learners == (4,)
    c.heal()
    settle(c, 60)
    assert c.nodes[1].membership.voters == (1, 2, 3, 4)


def test_one_change_at_a_time_and_only_after_an_own_term_commit() -> None:
    c = Cluster(3, seed=7)
    c.elect(1)
    lead = c.nodes[1]
    c.isolate(2)
    c.isolate(3)
    lead.propose(b"y")
    c.process_all()
    index, _ = lead.change_membership(ADD, 4)
    # In effect at once (appended, not committed): the leader tracks node 4 already.
    assert lead.membership.index == index and 4 in lead.prs
    with pytest.raises(ConfChangeRefused, match="not committed yet"):
        lead.change_membership(ADD, 5)
    c.heal()
    c.deliver_all()
    lead.change_membership(ADD, 5)  # the first one committed
    # A new leader refuses until an entry of its own term is committed.
    c.deliver_all()
    c.isolate(1)
    c.drop = lambda m: m.type is MessageType.APPEND_RESP  # no new entry can commit
    settle(c, 60)
    new = c.leader()
    other = ({2, 3} - {new}).pop()
    assert new != 1 and c.nodes[new].term > c.nodes[1].term
    with pytest.raises(ConfChangeRefused, match="entry of its term"):
        c.nodes[new].change_membership(REMOVE, 5)
    with pytest.raises(NotLeader):
        c.nodes[other].change_membership(REMOVE, 5)


def test_compare_and_set_on_the_configuration_index() -> None:
    c = Cluster(3, seed=8)
    c.elect(1)
    lead = c.nodes[1]
    assert lead.membership.index == 0
    index, _ = lead.change_membership(ADD, 4, expected_index=0)
    c.deliver_all()
    with pytest.raises(ConfChangeRefused, match=f"index is {index}, not 0"):
        lead.change_membership(ADD, 5, expected_index=0)
    assert lead.membership.index == index
    lead.change_membership(ADD, 5, expected_index=index)


def test_a_cut_suffix_takes_its_configuration_back() -> None:
    c = Cluster(3, seed=9)
    c.elect(1)
    c.isolate(1)
    c.nodes[1].change_membership(ADD, 4)  # never reaches anyone
    c.process_all()
    assert c.nodes[1].membership.learners == (4,)
    settle(c, 60)  # 2 and 3 elect a leader among them
    new = c.leader()
    assert new != 1
    c.propose(new, b"z")
    c.heal()
    settle(c)
    assert c.nodes[1].role is Role.FOLLOWER
    assert c.nodes[1].membership == c.nodes[new].membership and not c.nodes[1].membership.learners


def test_the_configuration_survives_compaction_restart_and_snapshot_install() -> None:
    c = grown()
    for i in (1, 2):
        assert c.compact(i)
    assert unwrap_snapshot(c.nodes[1].snapshot.data)[0].voters == (1, 2, 3, 4)
    c.crash(2)
    c.restart(2)
    assert c.nodes[2].membership.voters == (1, 2, 3, 4)
    # A blank joiner learns the configuration from the leader's snapshot.
    c.nodes[1].change_membership(ADD, 5)
    c.add_node(5)
    settle(c)
    assert c.nodes[5].membership == c.nodes[1].membership
    assert c.nodes[5].log.snapshot_index > 0 and c.applied[5] == c.applied[1]


def test_a_joiner_takes_no_snapshot_before_it_knows_the_configuration() -> None:
    """A joining node applies the entries before its own addition without knowing the
    configuration they were made under (the founders' bootstrap is not in the log): it
    does not compact there, since a node restoring that snapshot would take its own
    bootstrap for the configuration. From its addition's entry on it compacts as usual."""
    c = Cluster(3, seed=5, auto_promote=False)
    c.elect(1)
    for k in range(4):
        c.propose(1, b"x%d" % k)
    c.deliver_all()
    c.add_node(4)
    added, _ = c.nodes[1].change_membership(ADD, 4)
    c.deliver_all()
    settle(c)
    joiner, founder = c.nodes[4], c.nodes[2]
    assert joiner.log.applied >= added and c.applied[4] == c.applied[2]
    before = added - 1
    assert not joiner.compact(before, c.snapshot_of(4, before))  # configuration unknown there
    assert joiner.log.snapshot_index == 0 and joiner.snapshot is None
    assert founder.compact(before, c.snapshot_of(2, before))  # the founders know theirs
    assert joiner.compact(added, c.snapshot_of(4, added))
    conf = unwrap_snapshot(joiner.snapshot.data)[0]
    assert conf is not None and (conf.voters, conf.learners) == ((1, 2, 3), (4,))


def test_removed_leader_leads_until_committed_then_hands_over() -> None:
    c = grown()
    lead = c.nodes[1]
    for k in range(3):
        c.propose(1, b"w%d" % k)
    c.deliver_all()
    index, _ = lead.change_membership(REMOVE, 1)
    assert lead.role is Role.LEADER and lead.quorum == 2  # voters 2, 3, 4
    settle(c, 5)
    assert lead.role is Role.FOLLOWER and lead.removed
    new = c.leader()
    assert new != 1 and c.nodes[new].membership.voters == (2, 3, 4)
    assert c.nodes[new].log.committed >= index
    c.propose(new, b"after")
    settle(c, 200)
    assert lead.term < c.nodes[new].term + 1 and lead.role is Role.FOLLOWER
    assert c.leader() == new  # the removed node never disturbed it


def test_a_removed_node_that_missed_its_removal_does_not_disrupt() -> None:
    c = Cluster(3, seed=11)
    c.elect(1)
    c.deliver_all()
    c.isolate(3)
    c.nodes[1].change_membership(REMOVE, 3)
    settle(c, 10)
    assert c.nodes[1].membership.voters == (1, 2) and c.nodes[1].log.committed >= 2
    term = c.nodes[1].term
    c.tick(3, 300)  # its pre-votes go nowhere while cut off
    c.heal()
    settle(c, 300)
    assert c.nodes[1].role is Role.LEADER and c.nodes[1].term == term
    assert c.nodes[2].term == term


def test_ids_are_never_reused() -> None:
    c = grown()
    lead = c.nodes[1]
    lead.change_membership(REMOVE, 4)
    c.deliver_all()
    with pytest.raises(ConfChangeRefused, match="never reused"):
        lead.change_membership(ADD, 4)
    lead.change_membership(ADD, 5)


def test_the_last_voter_cannot_be_removed() -> None:
    c = Cluster(1, seed=3)
    c.campaign(1)
    c.deliver_all()
    with pytest.raises(ConfChangeRefused, match="last voter"):
        c.nodes[1].change_membership(REMOVE, 1)


def test_restart_from_a_log_with_config_entries() -> None:
    entries = (
        Entry(1, 1, b"", EntryKind.EMPTY),
        Entry(1, 2, Membership((1, 2, 3), (4,), 0, 4).encode(), EntryKind.CONFIG),
        Entry(1, 3, Membership((1, 2, 3, 4), (), 0, 4).encode(), EntryKind.CONFIG),
    )
    state = PersistentState(HardState(1, 1, 3), None, entries)
    r = Raft(Config(2, (1, 2, 3)), random.Random(1), state)
    assert r.membership == Membership((1, 2, 3, 4), (), 3, 4) and r.quorum == 3
    assert r.log.membership_at(2).learners == (4,)
