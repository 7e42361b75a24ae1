"""The core's output batch (`Ready`) and the state it is rebuilt from (`PersistentState`)."""

from __future__ import annotations

import dataclasses

from sentinel.raft.messages import Entry, HardState, Message, ReadState, Snapshot


@dataclasses.dataclass(frozen=True, slots=True)
class Ready:
    """Work for the driver, to be done in this order: persist, send, apply, then advance.

    - persist: `snapshot` (if any), `hard_state` (if changed), then `entries` (an entry
      whose index is already stored replaces the stored suffix from that index);
    - send: `messages`;
    - apply: first restore the state machine from `apply_snapshot` (if any), then apply
      `committed_entries` in order; serve each read in `read_states` once applied >= index;
    - `advance(ready)`.
    """

    #: None when unchanged since the last Ready.
    hard_state: HardState | None
    entries: tuple[Entry, ...]
    #: A snapshot to persist (made by `compact` or received from the leader).
    snapshot: Snapshot | None
    messages: tuple[Message, ...]
    #: A snapshot received from the leader: the application restores it before applying.
    apply_snapshot: Snapshot | None
    committed_entries: tuple[Entry, ...]
    read_states: tuple[ReadState, ...]
    #: Whether persisting needs an fsync (entries, a new term or vote, or a snapshot).
    must_sync: bool
    #: With `snapshot`: the log's entries after it when this Ready was made (`entries`
    #: among them), which the stored log keeps once the snapshot is stored. Taken here,
    #: not when the Ready is saved: while a Ready waits for disk room the core may move
    #: on (a newer term, a new leader's entries) past what this Ready's hard state covers.
    kept_entries: tuple[Entry, ...] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PersistentState:
    """What a node recovers from its storage and builds its core from.

    `entries` are contiguous and start right after the snapshot (or at index 1).
    """

    hard_state: HardState = dataclasses.field(default_factory=HardState)
    snapshot: Snapshot | None = None
    entries: tuple[Entry, ...] = ()
