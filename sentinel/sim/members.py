"""Membership changes as simulator faults (the "membership" profile).

A change goes to the leader of the moment, as an operator's command would: add a learner
(a blank node with a new id, started at once, promoted by the leader once caught up),
remove a follower, the leader removing itself, or two removals at the same instant (the
second must be refused while the first is uncommitted). A node that learns a committed
configuration no longer holds it stops for good, as a node process does; a removed node
that never heard of its removal keeps running, and must not disturb the others.

Refused changes (no leader, a change in progress, a new leader without an own-term commit)
are counted, not errors: the point is that whatever is accepted keeps every invariant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.raft import ConfChangeOp, ConfChangeRefused, NotLeader

if TYPE_CHECKING:
    from sentinel.sim.cluster import SimCluster

#: The voter counts the generated changes keep between (removals below / adds above stop).
VOTERS_MIN = 3
VOTERS_MAX = 7
#: Nodes one run may ever add (ids are never reused, so each add costs a slot).
ADDED_MAX = 40

KINDS = ("member-add", "member-remove", "member-remove-leader", "member-remove-two")


def perform(cluster: SimCluster, kind: str) -> None:
    """Carry out one membership action through the current leader."""
    leader = cluster.leader()
    if leader is None or leader.core is None:
        cluster.counts["conf_refused"] += 1
        return
    core = leader.core
    voters = core.membership.voters
    others = [v for v in voters if v != leader.id]
    if kind == "member-add":
        if len(voters) + len(core.membership.learners) >= VOTERS_MAX:
            return
        if len(cluster.ids) - cluster.founders >= ADDED_MAX:
            return
        new_id = max(cluster.ids) + 1
        if propose(cluster, leader.id, ConfChangeOp.ADD_LEARNER, new_id):
            cluster.add_node(new_id)
    elif len(voters) <= VOTERS_MIN:
        return
    elif kind == "member-remove":
        propose(cluster, leader.id, ConfChangeOp.REMOVE, cluster.rng.choice(others))
    elif kind == "member-remove-leader":
        propose(cluster, leader.id, ConfChangeOp.REMOVE, leader.id)
    elif kind == "member-remove-two" and len(voters) > VOTERS_MIN + 1:
        first, second = cluster.rng.sample(others, 2)
        propose(cluster, leader.id, ConfChangeOp.REMOVE, first)
        propose(cluster, leader.id, ConfChangeOp.REMOVE, second)


def propose(cluster: SimCluster, leader_id: int, op: ConfChangeOp, node_id: int) -> bool:
    """Ask the leader for one change; True when it was accepted (appended)."""
    node = cluster.nodes[leader_id]
    assert node.driver is not None
    try:
        index, _ = node.driver.core.change_membership(op, node_id)
    except (ConfChangeRefused, NotLeader) as exc:
        cluster.counts["conf_refused"] += 1
        cluster.trace.add((cluster.now_us, "conf-refused", leader_id, op.name, node_id, str(exc)))
        return False
    cluster.counts["conf_changes"] += 1
    cluster.trace.add((cluster.now_us, "conf", leader_id, op.name, node_id, index))
    cluster.process(node)
    return True


def retire_if_removed(cluster: SimCluster, node_id: int) -> None:
    """A node that knows a committed configuration dropped it stops for good."""
    node = cluster.nodes[node_id]
    if node.core is not None and node.core.removed and node_id not in cluster.retired:
        cluster.retired.add(node_id)
        cluster.counts["retired"] += 1
        cluster.trace.add((cluster.now_us, "retire", node_id))
        cluster.crash(node_id)
