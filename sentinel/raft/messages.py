"""Raft's persistent values and the messages nodes exchange (all registered with sentinel.wire).

One `Message` class with a `MessageType`, in the style of etcd-io/raft's raftpb.Message: the
core dispatches on the type through small per-role tables. `Message.is_response` tells the
network layer whether a message answers a request (6.824 treats lost replies apart from lost
requests); the mapping is fixed by the type, so the flag cannot disagree with the type.
"""

from __future__ import annotations

import dataclasses
import enum

from sentinel.wire import constructor, message

#: "No node": node ids are 1..N, so 0 means no vote, no leader.
NONE = 0
#: Bytes an entry costs beyond its data, for every byte limit (close to its encoded size).
ENTRY_OVERHEAD_BYTES = 24


@message
class EntryKind(enum.Enum):
    """NORMAL carries an application command; EMPTY is the no-op a new leader appends;
    CONFIG carries a cluster configuration (`membership.Membership.encode`)."""

    NORMAL = 1
    EMPTY = 2
    CONFIG = 3


@message
class Entry:
    """One log entry. `index` starts at 1; `term` is the leader's term when it was appended."""

    term: int
    index: int
    data: bytes = b""
    kind: EntryKind = EntryKind.NORMAL

    @property
    def size_bytes(self) -> int:
        """What this entry counts against byte limits."""
        return len(self.data) + ENTRY_OVERHEAD_BYTES


@message
class HardState:
    """What must be on disk before any message that depends on it is sent.

    `commit` is persisted opportunistically (the paper keeps commitIndex volatile).
    """

    term: int = 0
    vote: int = NONE
    commit: int = 0


@message
class SnapshotMeta:
    """The last log position a snapshot covers (0, 0 for "no snapshot")."""

    index: int = 0
    term: int = 0


@message
class Snapshot:
    """The application's state machine at `meta.index`, as opaque bytes."""

    meta: SnapshotMeta
    data: bytes


@message
class MessageType(enum.Enum):
    """Every kind of message; the comments say which fields each one uses."""

    PRE_VOTE = 1  # term = sender's term + 1 (not adopted), index/log_term = last entry
    PRE_VOTE_RESP = 2  # reject
    VOTE = 3  # index/log_term = last entry, force = leadership transfer
    VOTE_RESP = 4  # reject
    APPEND = 5  # index/log_term = entry before `entries`, commit
    APPEND_RESP = 6  # index = last matching index, or on reject: rejected index + hints
    HEARTBEAT = 7  # commit (<= follower's match), context = ReadIndex round
    HEARTBEAT_RESP = 8  # context echoed
    SNAPSHOT = 9  # snapshot = (meta, one chunk of its data at `offset`), done = last chunk;
    #               a chunk is answered with SNAPSHOT_RESP, the last one with APPEND_RESP
    TIMEOUT_NOW = 10  # leadership transfer: campaign at once, skipping pre-vote
    SNAPSHOT_RESP = 11  # index = the snapshot's index, offset = bytes held (the next wanted)


RESPONSE_TYPES: frozenset[MessageType] = frozenset(
    {
        MessageType.PRE_VOTE_RESP,
        MessageType.VOTE_RESP,
        MessageType.APPEND_RESP,
        MessageType.HEARTBEAT_RESP,
        MessageType.SNAPSHOT_RESP,
    }
)


@message
class Message:
    """A raft message from `src` to `dst` (node ids 1..N).

    On a rejected APPEND_RESP, `index` is the rejected prev index and (`reject_hint`,
    `log_term`) is the follower's hint for fast back-up: its last index <= the rejected one
    whose term is <= the leader's prev term, and that entry's term (0 = unknown).
    """

    type: MessageType
    src: int
    dst: int
    term: int
    log_term: int = 0
    index: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    reject: bool = False
    reject_hint: int = 0
    snapshot: Snapshot | None = None
    context: bytes = b""
    force: bool = False
    offset: int = 0
    done: bool = True

    @property
    def is_response(self) -> bool:
        """Whether this message answers a request (a "reply" in 6.824's labrpc terms)."""
        return self.type in RESPONSE_TYPES

    def __reduce__(self) -> tuple:
        """Travel as one flat tuple of plain values (enums as their ints, entries as
        4-tuples): raft messages are most of the traffic, and pickling nested objects and
        enums costs ~15 us a message more than the tuple (see `message_from_wire`)."""
        snap = self.snapshot
        return (
            message_from_wire,
            (
                (
                    self.type._value_, self.src, self.dst, self.term, self.log_term,
                    self.index,
                    tuple([(e.term, e.index, e.data, e.kind._value_) for e in self.entries]),
                    self.commit, self.reject, self.reject_hint,
                    None if snap is None else (snap.meta.index, snap.meta.term, snap.data),
                    self.context, self.force, self.offset, self.done,
                ),
            ),
        )  # fmt: skip


_MESSAGE_TYPES = {t._value_: t for t in MessageType}
_ENTRY_KINDS = {k._value_: k for k in EntryKind}


@constructor
def message_from_wire(flat: tuple) -> Message:
    """The Message that `Message.__reduce__` flattened into `flat`. Anything but that exact
    shape (15 fields; known type and kind numbers; entries as (term, index, data, kind);
    a snapshot as (index, term, data) or None) raises, which the decoder reports as a
    WireError. Field types are checked by the core (`validate`), as for any message."""
    (kind, src, dst, term, log_term, index, entries, commit, reject, reject_hint, snap,
     context, force, offset, done) = flat  # fmt: skip
    built = tuple([Entry(t, i, data, _ENTRY_KINDS[k]) for t, i, data, k in entries])
    snapshot = None
    if snap is not None:
        s_index, s_term, s_data = snap
        snapshot = Snapshot(SnapshotMeta(s_index, s_term), s_data)
    return Message(_MESSAGE_TYPES[kind], src, dst, term, log_term, index, built, commit,
                   reject, reject_hint, snapshot, context, force, offset, done)  # fmt: skip


@message
class ReadState:
    """A ReadIndex answer: the read tagged `context` may be served once applied >= index."""

    index: int
    context: bytes


@message
class Role(enum.Enum):
    """The four roles of a node."""

    FOLLOWER = 1
    PRE_CANDIDATE = 2
    CANDIDATE = 3
    LEADER = 4


@message
class Status:
    """A snapshot of a core's state for status reports and the dashboard."""

    id: int
    role: Role
    term: int
    vote: int
    leader: int
    commit: int
    applied: int
    first_index: int
    last_index: int
    snapshot_index: int
    snapshot_term: int
    lead_transferee: int
    #: Leader only: peer id -> match index (empty on followers).
    match: dict[int, int]
    #: Leader only: peer id -> "probe" / "replicate" / "snapshot".
    progress: dict[int, str]
    #: The configuration in effect: voters, learners, and the index of its entry.
    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()
    conf_index: int = 0
    #: Leader only: peer id -> (bytes it holds, bytes in all) of the snapshot being sent to
    #: it, for each peer a snapshot is being sent to.
    snapshot_sent: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
