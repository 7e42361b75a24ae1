"""The follower: `step_follower`, and its handling of the leader's APPEND, HEARTBEAT and
SNAPSHOT (Raft §5.3, §7).

Functions of the `Raft` (core.py) they are given as `r`; `Raft.become_follower` makes
`step_follower` the node's step.

Invariants kept here:
- Log matching (§5.3): entries are appended only after the entry before them matches the
  leader's, and a conflicting suffix is cut only past the commit index.
- The commit index never moves back and never passes our last index.
- A snapshot replaces the log only when the log does not already hold its last entry; every
  answer names an index up to which our log matches the leader's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sentinel.raft.election import FROM_LEADER, campaign
from sentinel.raft.messages import Message, MessageType
from sentinel.raft.reconfig import snapshot_conf

if TYPE_CHECKING:
    from sentinel.raft.core import Raft

log = logging.getLogger(__name__)

T = MessageType


def step_follower(r: Raft, m: Message) -> None:
    """Follower: accept the leader's messages; campaign at once on TIMEOUT_NOW."""
    if m.type in FROM_LEADER:
        r.election_elapsed = 0
        r.lead = m.src
        if m.type is T.APPEND:
            handle_append(r, m)
        elif m.type is T.HEARTBEAT:
            handle_heartbeat(r, m)
        else:
            handle_snapshot(r, m)
    elif m.type is T.TIMEOUT_NOW and r.id in r.voters:  # a learner never campaigns
        log.debug("node %d campaigns: leadership transfer from %d", r.id, m.src)
        campaign(r, pre_vote=False, transfer=True)


def handle_append(r: Raft, m: Message) -> None:
    """Raft §5.3: append if the logs match at the prev entry; else hint the leader back."""
    if m.index < r.log.committed:
        r.send(Message(T.APPEND_RESP, r.id, m.src, r.term, index=r.log.committed))
        return
    last_new = r.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
    if last_new is not None:
        r.send(Message(T.APPEND_RESP, r.id, m.src, r.term, index=last_new))
        return
    hint_index, hint_term = r.log.find_conflict_by_term(m.index, m.log_term)
    r.send(
        Message(
            T.APPEND_RESP,
            r.id,
            m.src,
            r.term,
            index=m.index,
            reject=True,
            reject_hint=hint_index,
            log_term=hint_term,
        )
    )


def handle_heartbeat(r: Raft, m: Message) -> None:
    """Commit what the leader says (it never exceeds our match) and echo the context."""
    r.log.commit_to(min(m.commit, r.log.last_index))
    r.send(Message(T.HEARTBEAT_RESP, r.id, m.src, r.term, context=m.context))


def handle_snapshot(r: Raft, m: Message) -> None:
    """InstallSnapshot (Raft §7): replace the log unless it already covers the snapshot."""
    snap = m.snapshot
    assert snap is not None  # validated
    meta = snap.meta
    if meta.index <= r.log.committed:
        pass  # stale: we already have (and committed) everything it holds
    elif r.log.match_term(meta.index, meta.term):
        r.log.commit_to(meta.index)  # our log holds it: just fast-forward the commit
    else:
        log.debug("node %d restores snapshot %d/%d", r.id, meta.index, meta.term)
        r.log.restore(meta, snapshot_conf(r, snap))
        r.snapshot = snap
        r.snapshot_to_persist = snap
        r.snapshot_to_apply = snap
    # Answer with our commit: everything up to it matches the leader's log.
    r.send(Message(T.APPEND_RESP, r.id, m.src, r.term, index=r.log.committed))
