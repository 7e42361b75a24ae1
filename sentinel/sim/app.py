"""The state machine plugged into a simulated node: apply, snapshot, restore.

The simulator runs it as the node driver's `Application` (sim/host.py `SimApp`) and needs
three things of it: apply committed entries in order,
turn its whole state into bytes at the applied index, and rebuild itself from such bytes.
`LogRecorder` (the default) records every applied command in a hash chain, so equal
snapshots at one index mean equal applied prefixes. `KVApplication` plugs in the pure
`KVStateMachine` of sentinel.kvraft.
"""

from __future__ import annotations

import hashlib
import struct
from typing import Any, Protocol

from sentinel.kvraft import KVStateMachine
from sentinel.raft import Entry, EntryKind

_RECORDER = struct.Struct(">QQ32s")


class StateMachine(Protocol):
    """What a simulated node runs on top of raft (wrapped as an `Application` by SimApp)."""

    def apply(self, entry: Entry) -> Any:
        """Apply one committed entry (index = last applied + 1); return the client's result."""
        ...

    def snapshot(self) -> bytes:
        """The whole state at the last applied index, deterministically encoded."""
        ...

    def restore(self, data: bytes) -> None:
        """Replace the whole state by a snapshot's."""
        ...


class LogRecorder:
    """Records applied commands: a count and a hash chain over (index, term, data).

    Two replicas hold the same state at an index exactly when they applied the same entries,
    so snapshots double as a check that replicas agree.
    """

    def __init__(self) -> None:
        self.applied_index = 0
        self.commands = 0
        self.chain = b"\x00" * 32
        #: The commands applied by this incarnation (for tests and the workload).
        self.recent: list[bytes] = []

    def apply(self, entry: Entry) -> int:
        """Fold the entry into the chain; returns the index it was applied at."""
        assert entry.index == self.applied_index + 1, (
            f"recorder applies {entry.index} after {self.applied_index}"
        )
        self.applied_index = entry.index
        if entry.kind is EntryKind.NORMAL:
            self.commands += 1
            header = struct.pack(">QQ", entry.index, entry.term)
            self.chain = hashlib.blake2b(self.chain + header + entry.data, digest_size=32).digest()
        return entry.index

    def snapshot(self) -> bytes:
        """(applied index, command count, chain) in 48 bytes."""
        return _RECORDER.pack(self.applied_index, self.commands, self.chain)

    def restore(self, data: bytes) -> None:
        """Take over a snapshot's state."""
        self.applied_index, self.commands, self.chain = _RECORDER.unpack(data)


class KVApplication:
    """The key/value state machine as a simulated node's application."""

    def __init__(self) -> None:
        self.machine = KVStateMachine()

    def apply(self, entry: Entry) -> Any:
        """Apply a command (an EMPTY entry only moves the applied index)."""
        data = entry.data if entry.kind is EntryKind.NORMAL else b""
        return self.machine.apply(entry.index, data)

    def snapshot(self) -> bytes:
        """The state machine's deterministic snapshot."""
        return self.machine.snapshot()

    def restore(self, data: bytes) -> None:
        """Replace the state machine's state."""
        self.machine.restore(data)
