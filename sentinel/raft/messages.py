"""Raft's persistent values and the messages nodes exchange (all registered with sentinel.wire).

One `Message` class with a `MessageType`, in the style of etcd-io/raft's raftpb.Message: the
core dispatches on the type through small per-role tables. `Message.is_response` tells the
network layer whether a message answers a request (6.824 treats lost replies apart from lost
requests); the mapping is fixed by the type, so the flag cannot disagree with the type.
"""

from __future__ import annotations

import enum

from sentinel.wire import message

#: "No node": node ids are 1..N, so 0 means no vote, no leader.
NONE = 0
#: Bytes an entry costs beyond its data, for every byte limit (close to its encoded size).
ENTRY_OVERHEAD_BYTES = 24


@message
class EntryKind(enum.Enum):
    """NORMAL carries an application command; EMPTY is the no-op a new leader appends."""

    NORMAL = 1
    EMPTY = 2


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
    SNAPSHOT = 9  # snapshot (the whole of it); answered with APPEND_RESP
    TIMEOUT_NOW = 10  # leadership transfer: campaign at once, skipping pre-vote


RESPONSE_TYPES: frozenset[MessageType] = frozenset(
    {
        MessageType.PRE_VOTE_RESP,
        MessageType.VOTE_RESP,
        MessageType.APPEND_RESP,
        MessageType.HEARTBEAT_RESP,
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

    @property
    def is_response(self) -> bool:
        """Whether this message answers a request (a "reply" in 6.824's labrpc terms)."""
        return self.type in RESPONSE_TYPES


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
