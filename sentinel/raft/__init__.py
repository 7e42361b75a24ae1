"""sentinel.raft: the Raft algorithm as a pure state machine, and the driver that runs it.

The core (`Raft`) is sans-I/O: no clock, socket, thread, file or global random source. The
`NodeDriver` (driver.py) is the one loop around it, for the node process (sentinel.host) and
the simulator (sentinel.sim) alike; it does no I/O either, its host does:

    core = Raft(Config(node_id, peer_ids), random.Random(seed), recovered_state)
    driver = NodeDriver(core, app, host, lease_s)   # host: save(rd) / send(msgs) / flush()
    while running:
        driver.tick() for each elapsed tick / driver.step(message) for each message
        driver.propose(data) / driver.read_index(context, now_s) for client requests
        driver.process(batches_max)     # every Ready: persist, send, apply, serve reads,
                                        # advance; then compact to the app's latest wish

A leader's messages leave before its own fsync when that is safe
(`NodeDriver.may_send_before_persist`); a Ready the host had no room to save is held and
offered again at the next `process`.

`propose` and `read_index` raise `NotLeader(leader_hint)` on a non-leader and
`ProposalDropped` when a limit is reached; `step` raises `InvalidMessage` for a message no
correct peer sends (log it and go on). The application's interface is app.py
(`Application`, `NodeContext`); the disk, the process and its loop are sentinel.host.
"""

from sentinel.raft.app import Application, NodeContext
from sentinel.raft.config import Config
from sentinel.raft.core import Raft
from sentinel.raft.driver import DriverHost, NodeDriver
from sentinel.raft.errors import (
    ClusterMismatchError,
    ConfChangeRefused,
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
from sentinel.raft.membership import ConfChangeOp, Membership
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
from sentinel.raft.ready import PersistentState, Ready

__all__ = [
    "NONE",
    "Application",
    "ClusterMismatchError",
    "ConfChangeOp",
    "ConfChangeRefused",
    "Config",
    "CorruptLogError",
    "CorruptSnapshotError",
    "CorruptStateError",
    "DriverHost",
    "Entry",
    "EntryKind",
    "HardState",
    "InvalidMessage",
    "InvariantError",
    "Membership",
    "Message",
    "MessageType",
    "MissingSnapshotError",
    "NodeContext",
    "NodeDriver",
    "NotLeader",
    "PersistentState",
    "ProposalDropped",
    "Raft",
    "RaftError",
    "ReadState",
    "Ready",
    "Role",
    "Snapshot",
    "SnapshotMeta",
    "Status",
    "StorageError",
]
