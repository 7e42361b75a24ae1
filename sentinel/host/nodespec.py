"""What a node process is told at start: `NodeSpec` (picklable: it crosses the spawn
boundary) and the process name a node runs under."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sentinel.raft.config import Config

#: The key/value server: what a node runs unless its spec names another application.
KV_SERVER_APP = "sentinel.kvraft.server:KVServerApp"
#: The 6.824 Raft tests' application (host/recorder.py); tests name it explicitly.
RECORDER_APP = "sentinel.host.recorder:Recorder"
DEFAULT_APP = KV_SERVER_APP


@dataclasses.dataclass(frozen=True, slots=True)
class NodeSpec:
    """Everything a node process needs; picklable (it crosses the spawn boundary).

    `app` names the application factory as "module:attribute"; it is called with no arguments
    and must return an `Application`. `app_options` reaches it as `ctx.options`.
    Timing: one tick is `tick_ms`; the leader sends heartbeats every `heartbeat_ticks` (50 ms
    by default, etcd's figure: 20 per second to each follower, within 6.824's TestCount bound)
    and followers time out after a random [election_ticks, 2 * election_ticks) ticks (150-300
    ms by default: a crashed leader is replaced quickly, see benchmarks/failover.py; three
    missed heartbeats before anyone stands, and pre-vote + check-quorum keep a slow node from
    disrupting a healthy leader).
    """

    cluster_dir: str
    node_id: int
    peer_ids: tuple[int, ...]
    cluster_id: str = "sentinel"
    app: str = DEFAULT_APP
    app_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    tick_ms: int = 10
    heartbeat_ticks: int = 5
    election_ticks: int = 15
    status_interval_ms: int = 200
    seed: int | None = None
    log_level: str = "INFO"
    #: A state at least this big (the application's estimate) is snapshotted by a forked
    #: child, off the loop (see bgsnap.py); -1: never.
    background_snapshot_bytes_min: int = 1024 * 1024
    #: A leader answers reads without a heartbeat round for `lease_ms()` after a quorum
    #: confirmed it (measured on the monotonic clock, which every node of the cluster
    #: shares: they run on one machine); see NodeRuntime.read_index.
    lease_reads: bool = True
    #: Between ticks a leader sends new entries only to the quorum - 1 followers that keep
    #: up best, the rest once per tick (Config.lazy_followers).
    lazy_followers: bool = True
    #: A node added to a running cluster (a learner first): it knows no configuration
    #: until the leader's log or snapshot gives it one (Config.joining).
    joining: bool = False
    #: The node's directory may hold at most this many bytes (0: as much as the disk has):
    #: a way to run out of disk on purpose, see OsFileSystem and stall.py.
    disk_quota_bytes: int = 0

    def lease_ms(self) -> float:
        """How long a confirmed leadership is good for reads: 80% of the shortest time a
        follower that heard from this leader refuses to vote for another, (election_ticks
        - 1) ticks (a tick may end just after the message came)."""
        return 0.8 * (self.election_ticks - 1) * self.tick_ms

    @property
    def directory(self) -> Path:
        """The node's own directory: `<cluster_dir>/node-<id>`."""
        return Path(self.cluster_dir) / f"node-{self.node_id}"

    def raft_config(self) -> Config:
        """The core's configuration for this node."""
        return Config(
            self.node_id,
            tuple(self.peer_ids),
            election_ticks=self.election_ticks,
            heartbeat_ticks=self.heartbeat_ticks,
            lease_reads=self.lease_reads,
            lazy_followers=self.lazy_followers,
            joining=self.joining,
        )


def node_name(node_id: int) -> str:
    """The ProcessGroup name of node `node_id`."""
    return f"node-{node_id}"
