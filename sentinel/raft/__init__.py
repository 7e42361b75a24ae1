"""sentinel.raft: the Raft algorithm as a pure state machine, and its storage on disk.

The core (`Raft`) is sans-I/O: no clock, socket, thread, file or global random source. It is
driven by a loop like this one (the node process; the simulator does the same on a virtual
clock with `MemFileSystem`):

    storage = Storage.open(directory, cluster_id, node_id)      # recovers; may raise StorageError
    state = storage.recovered                                   # PersistentState
    if state.snapshot is not None:
        app.restore(state.snapshot.data)                        # the application restores itself
    core = Raft(Config(node_id, peer_ids), random.Random(seed), state)
    while running:
        wait for a message or the next tick deadline (one tick ~ 10 ms)
        core.tick() for each elapsed tick / core.step(message) for each message
        core.propose(data) / core.read_index(context) for client requests
        while core.has_ready():
            rd = core.ready()
            storage.save(rd)              # 1. persist (one fsync when rd.must_sync)
            send(rd.messages)             # 2. send (m.is_response tells requests from replies)
            if rd.apply_snapshot:         # 3. apply: snapshot first, then entries in order
                app.restore(rd.apply_snapshot.data)
            for entry in rd.committed_entries:
                app.apply(entry)          # EntryKind.EMPTY entries carry no command
            serve rd.read_states whose index <= applied (keep the rest until applied)
            core.advance(rd)              # 4. advance
        if the application wants: core.compact(applied_index, app.snapshot())

A full disk need not stop the loop: `StallingSaver` holds a Ready that `save` had no room for
(ENOSPC) and saves it again later; until then that Ready's steps 2-4 wait.

`propose` and `read_index` raise `NotLeader(leader_hint)` on a non-leader and
`ProposalDropped` when a limit is reached; `step` raises `InvalidMessage` for a message no
correct peer sends (log it and go on). `storage.raft_state_bytes()` is the figure to compare
with 6.824's maxraftstate.

A node process runs that loop for an `Application` (see app.py) described by a `NodeSpec`;
start one with `sentinel.raft.node.spawn_node(spec, router, group)`. A big state is
snapshotted by a forked child (bgsnap.py) so the loop never stops for the encoding.
"""

from sentinel.raft.app import Application, NodeContext
from sentinel.raft.config import Config
from sentinel.raft.core import Raft
from sentinel.raft.errors import (
    ClusterMismatchError,
    CorruptLogError,
    CorruptSnapshotError,
    CorruptStateError,
    InvalidMessage,
    InvariantError,
    MissingSnapshotError,
    NotLeader,
    ProposalDropped,
    RaftError,
    StorageError,
)
from sentinel.raft.fs import FileSystem, MemFileSystem, OsFileSystem
from sentinel.raft.messages import (
    NONE,
    Entry,
    EntryKind,
    HardState,
    Message,
    MessageType,
    ReadState,
    Role,
    Snapshot,
    SnapshotMeta,
    Status,
)
from sentinel.raft.nodespec import NodeSpec
from sentinel.raft.ready import PersistentState, Ready
from sentinel.raft.stall import StallingSaver
from sentinel.raft.storage import Storage, holds_state

__all__ = [
    "NONE",
    "Application",
    "ClusterMismatchError",
    "Config",
    "CorruptLogError",
    "CorruptSnapshotError",
    "CorruptStateError",
    "Entry",
    "EntryKind",
    "FileSystem",
    "HardState",
    "InvalidMessage",
    "InvariantError",
    "MemFileSystem",
    "Message",
    "MessageType",
    "MissingSnapshotError",
    "NodeContext",
    "NodeSpec",
    "NotLeader",
    "OsFileSystem",
    "PersistentState",
    "ProposalDropped",
    "Raft",
    "RaftError",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "StallingSaver",
    "Status",
    "Storage",
    "StorageError",
    "holds_state",
]
