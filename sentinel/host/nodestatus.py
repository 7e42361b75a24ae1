"""The status record a node process posts to the router a few times a second.

The router stores the blob without decoding it; the supervisor, the dashboard and the tests
read it back with `RouterHandle.statuses()` (or `Network.report()`) and `decode_status`.
"""

from __future__ import annotations

import dataclasses

from sentinel.wire import WireError, decode, message


@message
class NodeStatus:
    """One node's state and counters (`role` is a Role name: FOLLOWER, LEADER, ...)."""

    node_id: int
    pid: int
    role: str
    term: int
    leader: int
    commit: int
    applied: int
    last_index: int
    #: Entries held in the log (last_index - snapshot_index).
    log_length: int
    snapshot_index: int
    disk_bytes: int
    raft_state_bytes: int
    snapshot_bytes: int
    #: Raft messages (requests and replies) and their payload bytes received from peers.
    raft_msgs_received: int
    raft_bytes_received: int
    #: Raft requests only (labrpc's per-server incoming RPC count).
    raft_requests_received: int
    raft_msgs_sent: int
    raft_bytes_sent: int
    #: Messages refused: undecodable frames, invalid raft messages, unknown payloads.
    bad_frames: int
    invalid_msgs: int
    rpc_calls: int
    uptime_ms: int
    app: dict[str, int]
    #: Why the node cannot persist (e.g. "disk full: ..."); "" when it can.
    disk_error: str = ""
    #: The configuration in effect here: voters, learners, the index of its entry.
    voters: tuple[int, ...] = ()
    learners: tuple[int, ...] = ()
    conf_index: int = 0
    #: Leader only: each learner's match index (its catching up, for the dashboard).
    learner_match: dict[int, int] = dataclasses.field(default_factory=dict)
    #: Leader only: each learner being sent a snapshot -> (bytes it holds, bytes in all).
    learner_snapshot: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)


def decode_status(blob: bytes) -> NodeStatus | None:
    """A NodeStatus from a status blob, or None if the blob is something else."""
    try:
        return decode(blob, NodeStatus)
    except WireError:
        return None
