"""Membership changes as simulator faults (the "membership" profile).

A change goes to the leader of the moment, as an operator's command would: add a learner
(a blank node with a new id, started at once, promoted by the leader once caught up),
remove a follower, the leader removing itself, or two removals at the same instant (the
second must be refused while the first is uncommitted). A node that learns a committed
configuration no longer holds it stops for good, as a node process does; a removed node
that never heard of its removal keeps running, and must not disturb the others.

Refused changes (no leader, a change in progress, a new leader without an own-term commit)
are counted, not errors: the point is that whatever is accepted keeps every invariant.

A race ("member-race", Ongaro's 2015 scenario for single-server changes) sets up the case the
own-term-commit rule exists for: the leader proposes removing a follower and is cut off at
once (the entry stays in its log alone); the first leader the others elect proposes
removing the old leader at once, before its own no-op commits, and the network splits so
that it may commit that with a majority of its new configuration while the old leader and
the rest (who never saw the new leader's entries) can elect the old leader under the first
change's configuration. A leader that accepted the second change would have had it
committed and then overwritten. The scenario can only bite with an even voter count.
"""

from __future__ import annotations

from dataclasses import dataclass
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
RACE = "member-race"


@dataclass(frozen=True, slots=True)
class Race:
    """A race under way: `old` leader (of `term`) proposed removing `removed`, cut off."""

    old: int
    term: int
    removed: int


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


def start_race(cluster: SimCluster) -> None:
    """The race's first half: the leader proposes removing a follower, then is cut off."""
    leader = cluster.leader()
    if leader is None or leader.core is None or cluster.race is not None:
        return
    others = [v for v in leader.core.membership.voters if v != leader.id]
    if len(others) < 3:  # the removal would leave fewer than three voters
        return
    removed, term = cluster.rng.choice(others), leader.core.term
    if propose(cluster, leader.id, ConfChangeOp.REMOVE, removed):
        cluster.race = Race(leader.id, term, removed)
        cluster.race_owns_net = True
        cluster.counts["conf_races"] += 1
        rest = [i for i in cluster.ids if i != leader.id]
        split(cluster, ((leader.id,), tuple(rest)))


def end_race(cluster: SimCluster) -> None:
    """A race's time is up: the network is whole again (and free for other partitions)."""
    if cluster.race_owns_net:
        cluster.race, cluster.race_owns_net = None, False
        cluster.net.heal()
        cluster.trace.add((cluster.now_us, "heal-net"))


def on_new_leader(cluster: SimCluster, node_id: int) -> None:
    """The race's second half, the instant a new leader is elected after the old one was
    cut off: it proposes removing the old leader (refused by a correct leader: no entry of
    its term is committed yet), and the network splits into the new leader with just
    enough of the new configuration's voters to commit, and the old leader with the rest."""
    race = cluster.race
    core = cluster.nodes[node_id].core
    if race is None or core is None or node_id == race.old or core.term <= race.term:
        return
    cluster.race = None
    conf = core.membership
    propose(cluster, node_id, ConfChangeOp.REMOVE, race.old)
    helpers = [v for v in conf.voters if v not in (node_id, race.old)]
    helpers.sort(key=lambda v: (v != race.removed, cluster.rng.random()))
    quorum_new = (len(conf.voters) - 1) // 2 + 1
    near = (node_id, *helpers[: quorum_new - 1])
    far = tuple(i for i in cluster.ids if i not in near)
    split(cluster, (tuple(sorted(near)), far))


def split(cluster: SimCluster, groups: tuple[tuple[int, ...], ...]) -> None:
    """Partition the network into `groups` (messages in flight across them are lost)."""
    cluster.net.partition([list(g) for g in groups])
    text = " | ".join(",".join(map(str, g)) for g in groups)
    cluster.trace.add((cluster.now_us, "partition", text))


def propose(cluster: SimCluster, leader_id: int, op: ConfChangeOp, node_id: int) -> bool:
    """Ask the leader for one change; True when it was accepted (appended)."""
    node = cluster.nodes[leader_id]
    if node.driver is None:  # down: a power cut while it persisted the change before this one
        cluster.counts["conf_refused"] += 1
        return False
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
