"""The leader's side of membership changes (dissertation ch. 4, single-server changes).

Functions of the `Raft` (core.py) given as `r`: proposing a change, tracking the members of
a new configuration, promoting caught-up learners, and a removed leader's retirement.

Invariants kept here:
- One change at a time: a change is accepted only when the configuration in effect is
  committed, and only once this leader has committed an entry of its own term (the 2015
  fix: otherwise a change of an old term that the leader has not seen committed and a new
  one could give two configurations whose majorities do not overlap).
- Every voter set's majority overlaps the next one's: each change adds or removes one
  voter, or changes only learners.
- A removed leader keeps leading (not counting itself) until the change commits, then
  hands over with TIMEOUT_NOW to the most caught-up voter and steps down.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sentinel.raft import leader
from sentinel.raft.errors import ConfChangeRefused
from sentinel.raft.membership import ConfChangeOp, Membership, unwrap_snapshot
from sentinel.raft.messages import NONE, Entry, EntryKind, Role, Snapshot

if TYPE_CHECKING:
    from sentinel.raft.core import Raft

log = logging.getLogger(__name__)


def refusal(r: Raft, expected_index: int | None) -> str:
    """Why this leader may not start a change now ("" when it may)."""
    conf = r.membership
    if r.lead_transferee != NONE:
        return f"leadership transfer to {r.lead_transferee} under way"
    if not r.committed_in_current_term():
        return "the leader has not yet committed an entry of its term"
    if conf.index > r.log.committed:
        return f"the change at index {conf.index} is not committed yet"
    if expected_index is not None and expected_index != conf.index:
        return f"the configuration index is {conf.index}, not {expected_index}"
    return ""


def propose_conf_change(
    r: Raft, op: ConfChangeOp, node_id: int, expected_index: int | None
) -> Entry:
    """Append the CONFIG entry for `op` on `node_id`; it takes effect at once (§4.1)."""
    why = refusal(r, expected_index)
    if why:
        raise ConfChangeRefused(why)
    try:
        new = r.membership.changed(op, node_id)
    except ValueError as exc:
        raise ConfChangeRefused(str(exc)) from None
    entry = Entry(r.term, r.log.last_index + 1, new.encode(), EntryKind.CONFIG)
    leader.append_entry(r, entry)
    r.refresh_membership()
    log.info("node %d proposes %s %d at index %d", r.id, op.name, node_id, entry.index)
    return entry


def snapshot_conf(r: Raft, snapshot: Snapshot | None) -> Membership:
    """The configuration a snapshot carries (the bootstrap one when it has none)."""
    conf = unwrap_snapshot(snapshot.data)[0] if snapshot is not None else None
    return conf or r.bootstrap


def follow_log(r: Raft) -> None:
    """Take the log's configuration (it changes when a CONFIG entry is appended, cut or
    restored with a snapshot); a leader starts or stops tracking members."""
    conf = r.log.membership
    r.membership = conf
    r.voters = conf.voters
    r.peers = conf.members
    r.followers = tuple(p for p in r.peers if p != r.id)
    if r.role is Role.LEADER:
        track_members(r)
    else:
        r.eager = r.followers


def is_removed(r: Raft) -> bool:
    """Whether a committed configuration no longer holds this node (a leader first hands
    over, see `maybe_retire`). A joining node that got a snapshot older than its own
    addition is not in it either, but is not removed: its id is past `id_max` there."""
    conf = r.membership
    return (
        conf.known
        and r.id <= conf.id_max
        and r.id not in conf.members
        and conf.index <= r.log.committed
        and r.role is not Role.LEADER
    )


def track_members(r: Raft) -> None:
    """Leader: a Progress for every member of the configuration in effect, none for
    others (our own is kept: it counts our log)."""
    last = r.log.last_index
    for peer in r.peers:
        if peer not in r.prs:
            r.prs[peer] = leader.new_progress(r, last + 1)
    for peer in [p for p in r.prs if p != r.id and p not in r.peers]:
        del r.prs[peer]
    if r.lead_transferee not in (NONE, *r.voters):
        r.lead_transferee = NONE
    r.eager = r.followers
    r.pending_all = True


def tick_learners(r: Raft) -> None:
    """Leader, each tick: count how long each learner has kept up; promote the first one
    that kept up for `learner_caught_up_ticks` (when a change may start)."""
    learners = r.membership.learners
    if not learners:
        return  # (each tick: nothing to count nor promote)
    cfg = r.config
    for peer in learners:
        pr = r.prs[peer]
        if r.log.last_index - pr.match <= cfg.max_learner_lag_entries and pr.match > 0:
            pr.caught_up_ticks += 1
        else:
            pr.caught_up_ticks = 0
    if not cfg.auto_promote or refusal(r, None):
        return
    for peer in learners:
        if r.prs[peer].caught_up_ticks >= cfg.learner_caught_up_ticks:
            propose_conf_change(r, ConfChangeOp.PROMOTE, peer, None)
            return


def catch_up_fraction(r: Raft, peer: int) -> float:
    """How far a learner has caught up with the leader's log, 0.0 to 1.0."""
    last = r.log.last_index
    return 1.0 if last == 0 else min(1.0, r.prs[peer].match / last)


def maybe_retire(r: Raft) -> None:
    """A leader that a committed configuration removed hands over and steps down."""
    conf = r.membership
    if r.role is not Role.LEADER or r.id in conf.voters or conf.index > r.log.committed:
        return
    target = max(conf.voters, key=lambda p: (r.prs[p].match, -p))
    if r.prs[target].match >= r.log.last_index:
        log.info("node %d was removed: hands leadership to %d", r.id, target)
        leader.send_timeout_now(r, target)
        r.become_follower(r.term, NONE)
    elif r.lead_transferee != target:
        leader.start_transfer(r, target)
