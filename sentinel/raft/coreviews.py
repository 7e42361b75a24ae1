"""Read-only views of a `Raft` (core.py): its status record, the explanation of a broken
invariant, and the check of a message before it is stepped. Kept apart so that the core
module holds what changes state."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sentinel.raft.errors import InvalidMessage, invariant
from sentinel.raft.messages import Message, MessageType, Role, Status

if TYPE_CHECKING:
    from sentinel.raft.core import Raft


def status_of(r: Raft) -> Status:
    """A frozen record of this node's state."""
    leader = r.role is Role.LEADER
    return Status(
        id=r.id,
        role=r.role,
        term=r.term,
        vote=r.vote,
        leader=r.lead,
        commit=r.log.committed,
        applied=r.log.applied,
        first_index=r.log.first_index,
        last_index=r.log.last_index,
        snapshot_index=r.log.snapshot_index,
        snapshot_term=r.log.snapshot_term,
        lead_transferee=r.lead_transferee,
        match={p: pr.match for p, pr in r.prs.items()} if leader else {},
        progress={p: pr.state.value for p, pr in r.prs.items()} if leader else {},
        voters=r.membership.voters,
        learners=r.membership.learners,
        conf_index=r.membership.index,
        snapshot_sent={
            p: (pr.snapshot_offset, len(pr.snapshot.data))
            for p, pr in r.prs.items()
            if pr.snapshot is not None
        }
        if leader
        else {},
    )


def explain_invariants(r: Raft) -> None:
    """Raise InvariantError for the first invariant that does not hold."""
    lg = r.log
    invariant(lg.committed <= lg.last_index, f"commit {lg.committed} > last {lg.last_index}")
    invariant(lg.applied <= lg.committed, f"applied {lg.applied} > commit {lg.committed}")
    restoring = r.snapshot_to_apply is not None
    invariant(restoring or lg.snapshot_index <= lg.applied, "snapshot beyond applied")
    invariant(lg.stable <= lg.last_index, "stable beyond the log")
    invariant(lg.last_term <= r.term, "log term beyond the current term")
    invariant(r.vote >= 0, "vote for a bad id")
    invariant((r.role is Role.LEADER) == (r.lead == r.id), "leader mismatch")


def validate(r: Raft, m: Message) -> None:
    """Reject what no correct peer sends, before any state changes."""
    if m.dst != r.id:
        raise InvalidMessage(f"message for {m.dst} delivered to {r.id}")
    if m.src == r.id or m.src < 1:
        raise InvalidMessage(f"message from unknown peer {m.src}")
    if m.term < 0 or m.index < 0 or m.log_term < 0 or m.commit < 0 or m.offset < 0:
        raise InvalidMessage(f"negative field in {m.type.name} from {m.src}")
    for k, entry in enumerate(m.entries):
        if entry.index != m.index + 1 + k or not 0 < entry.term <= m.term:
            raise InvalidMessage(f"bad entry {k} in {m.type.name} from {m.src}")
    if m.entries and (m.type is not MessageType.APPEND or m.entries[0].term < m.log_term):
        raise InvalidMessage(f"unexpected entries in {m.type.name} from {m.src}")
    if m.type is MessageType.SNAPSHOT and m.snapshot is None:
        raise InvalidMessage(f"SNAPSHOT without a snapshot from {m.src}")
