"""The follower: `step_follower`, and its handling of the leader's APPEND, HEARTBEAT and
SNAPSHOT (Raft §5.3, §7).

Functions of the `Raft` (core.py) they are given as `r`; `Raft.become_follower` makes
`step_follower` the node's step.

Invariants kept here:
- Log matching (§5.3): entries are appended only after the entry before them matches the
  leader's, and a conflicting suffix is cut only past the commit index.
- The commit index never moves back and never passes our last index.
- A snapshot replaces the log only when the log does not already hold its last entry, and
  only once every chunk of it has arrived, in order, from one leader in one term; every
  APPEND_RESP names an index up to which our log matches the leader's.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from sentinel.raft.election import FROM_LEADER, campaign
from sentinel.raft.messages import Message, MessageType, Snapshot
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
    """InstallSnapshot (Raft §7): replace the log unless it already covers the snapshot.
    Chunks are kept until the last one arrives (`take_chunk`); each is answered with the
    bytes held, the last with our commit."""
    snap = m.snapshot
    assert snap is not None  # validated
    meta = snap.meta
    if meta.index <= r.log.committed:
        r.snapshot_partial = None  # stale: we already have (and committed) all it holds
    elif r.log.match_term(meta.index, meta.term):
        r.snapshot_partial = None
        r.log.commit_to(meta.index)  # our log holds it: just fast-forward the commit
    else:
        whole = take_chunk(r, m)
        if whole is None:
            held = r.snapshot_partial
            offset = len(held[1]) if held is not None and held[0] == _transfer(m) else 0
            r.send(Message(T.SNAPSHOT_RESP, r.id, m.src, r.term, index=meta.index, offset=offset))
            return
        log.debug("node %d restores snapshot %d/%d", r.id, meta.index, meta.term)
        r.log.restore(meta, snapshot_conf(r, whole))
        r.snapshot = whole
        r.snapshot_to_persist = whole
        r.snapshot_to_apply = whole
    # Answer with our commit: everything up to it matches the leader's log.
    r.send(Message(T.APPEND_RESP, r.id, m.src, r.term, index=r.log.committed))


def _transfer(m: Message) -> tuple[int, int, int, int]:
    """What names one snapshot transfer: its sender and term, and the snapshot's position.
    (Two leaders' snapshots at one position hold the same state, but not the same bytes.)"""
    assert m.snapshot is not None
    return (m.src, m.term, m.snapshot.meta.index, m.snapshot.meta.term)


def take_chunk(r: Raft, m: Message) -> Snapshot | None:
    """Keep `m`'s chunk if it is the next one of the transfer we hold (a chunk at offset 0
    starts a transfer over, dropping any other); the whole snapshot once its last chunk
    is in, else None. A chunk out of order (a duplicate, or one after a lost one) is not
    kept: the answer tells the leader where we stand."""
    assert m.snapshot is not None
    key, chunk = _transfer(m), m.snapshot.data
    held = r.snapshot_partial
    if m.offset == 0:
        held = r.snapshot_partial = (key, bytearray())
    elif held is None or held[0] != key or m.offset != len(held[1]):
        return None
    data = held[1]
    if len(data) + len(chunk) > r.config.max_snapshot_bytes:
        log.warning("node %d: snapshot from %d is over max_snapshot_bytes; dropped", r.id, m.src)
        r.snapshot_partial = None
        return None
    data += chunk
    if not m.done:
        return None
    r.snapshot_partial = None
    return Snapshot(m.snapshot.meta, bytes(data))
