"""View-model records for the dashboard, and pure event bookkeeping.

The supervisor (`sentinel.cluster`) fills these from the router's statistics and the nodes'
status reports; the dashboard only reads them. They are deliberately independent of every other
sentinel package so the dashboard can be rendered (and tested) from a fixed snapshot.

Unknown values are `None`, never a made-up zero: a killed node has no role, term or CPU figure.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

EVENTS_MAX = 200  # default bound of an EventLog: the pane shows a handful, plain mode prints all


class ProcessState(enum.StrEnum):
    """What the supervisor knows about a node's OS process."""

    RUNNING = "running"
    PAUSED = "paused"  # SIGSTOP
    KILLED = "killed"  # SIGKILL, not yet restarted
    EXITED = "exited"  # ended by itself (an error: see its log), not yet restarted
    RESTARTING = "restarting"  # a fresh process is being spawned on the same directory


class Role(enum.StrEnum):
    """The raft role a node reports. Plain strings with these values are accepted too."""

    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class EventKind(enum.StrEnum):
    """What an Event is about; the events pane colours lines by kind."""

    ELECTION = "election"
    LEADER = "leader"
    KILL = "kill"
    PAUSE = "pause"
    RESUME = "resume"
    RESTART = "restart"
    PARTITION = "partition"
    HEAL = "heal"
    SNAPSHOT = "snapshot"
    NETWORK = "network"
    ACTION = "action"
    ERROR = "error"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class NodeView:
    """One node as the dashboard shows it. `None` means unknown (e.g. the node is killed)."""

    node_id: int
    state: ProcessState
    pid: int | None = None
    group: str | None = None  # partition group label; None when the network is whole
    role: str | None = None  # a Role value
    term: int | None = None
    leader_id: int | None = None  # the leader this node follows, as it believes
    log_length: int | None = None
    commit_index: int | None = None
    applied_index: int | None = None
    snapshot_index: int | None = None
    disk_bytes: int | None = None
    disk_error: str | None = None  # why the node cannot persist (a full disk); None: it can
    exit_reason: str | None = None  # why a node the supervisor did not stop ended
    cpu_percent: float | None = None
    rss_bytes: int | None = None
    msgs_in_per_s: float | None = None
    msgs_out_per_s: float | None = None
    member: str | None = None  # "voter" or "learner", as the leader says; None: unknown
    conf_index: int | None = None  # the index of the configuration this node uses
    catch_up_percent: int | None = None  # a learner's match over the leader's last index
    #: A learner being sent the leader's snapshot: the share of it it holds (None: not now).
    snapshot_percent: int | None = None

    def __post_init__(self) -> None:
        assert self.node_id >= 0, self.node_id
        object.__setattr__(self, "state", ProcessState(self.state))


@dataclass(frozen=True, slots=True)
class RouterTotals:
    """The router's counters: rates over the last interval, totals since start."""

    msgs_per_s: float | None = None
    bytes_per_s: float | None = None
    dropped: int | None = None
    delayed: int | None = None
    in_flight: int | None = None


@dataclass(frozen=True, slots=True)
class RedisTotals:
    """The Redis front door: where it listens, its clients now, commands per second."""

    address: str
    connections: int
    commands_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """Something worth a line: `time_s` is seconds since the cluster came up.

    `seq` orders events; an `EventLog` numbers them 1, 2, 3... so a reader that has seen events
    up to `seq` n can pick out the new ones (plain mode prints each event exactly once).
    """

    time_s: float
    kind: EventKind
    text: str
    seq: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))


@dataclass(frozen=True, slots=True)
class GroupView:
    """One raft group of a sharded cluster (gid 0: the shard controller)."""

    gid: int
    leader: int | None = None  # node id
    term: int | None = None
    config_num: int | None = None  # the configuration its leader has applied


@dataclass(frozen=True, slots=True)
class ShardsView:
    """A sharded cluster: its groups, the latest configuration's shard map (shard i owned by
    group `owners[i]`, 0: none) and shards in flight as (shard, from gid, to gid)."""

    config_num: int | None
    owners: tuple[int, ...]
    groups: tuple[GroupView, ...]
    in_flight: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ClusterView:
    """A whole-cluster snapshot: everything one dashboard frame shows."""

    nodes: tuple[NodeView, ...]
    totals: RouterTotals = field(default_factory=RouterTotals)
    leader: int | None = None
    term: int | None = None
    elections: int = 0
    uptime_s: float = 0.0
    preset: str = "reliable"
    cluster_dir: str = ""
    events: tuple[Event, ...] = ()  # oldest first
    redis: RedisTotals | None = None  # None: no Redis front door serves this cluster
    shards: ShardsView | None = None  # None: not a sharded cluster

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(sorted(self.nodes, key=lambda n: n.node_id)))
        object.__setattr__(self, "events", tuple(self.events))
        ids = [n.node_id for n in self.nodes]
        assert len(ids) == len(set(ids)), f"duplicate node ids: {ids}"

    @property
    def node_ids(self) -> tuple[int, ...]:
        """The ids of the nodes, ascending."""
        return tuple(n.node_id for n in self.nodes)

    def node(self, node_id: int) -> NodeView | None:
        """The node with this id, or None."""
        for n in self.nodes:
            if n.node_id == node_id:
                return n
        return None


class EventLog:
    """A bounded, numbered log of events (pure; the caller serialises access).

    Invariant: the events kept are the newest `capacity`, oldest first, numbered 1, 2, 3,
    ... in the order they were added with no gaps, so `seq_last` is the newest one's number.
    """

    def __init__(self, capacity: int = EVENTS_MAX) -> None:
        assert capacity > 0, capacity
        self._events: deque[Event] = deque(maxlen=capacity)
        self._seq_last = 0

    @property
    def capacity(self) -> int:
        """The most events kept; older ones fall off the front."""
        assert self._events.maxlen is not None
        return self._events.maxlen

    @property
    def seq_last(self) -> int:
        """The number given to the newest event, 0 if none yet."""
        return self._seq_last

    def add(self, event: Event) -> Event:
        """Append `event`, numbered after the previous one; returns the numbered copy."""
        self._seq_last += 1
        numbered = replace(event, seq=self._seq_last)
        self._events.append(numbered)
        return numbered

    def record(self, time_s: float, kind: EventKind | str, text: str) -> Event:
        """Append a new event built from its parts."""
        return self.add(Event(time_s=time_s, kind=EventKind(kind), text=text))

    def extend(self, events: Iterable[Event]) -> list[Event]:
        """Append several events in order."""
        return [self.add(e) for e in events]

    def recent(self, count: int | None = None) -> tuple[Event, ...]:
        """The newest `count` events (all kept, if None), oldest first."""
        events = tuple(self._events)
        if count is None:
            return events
        assert count >= 0, count
        return events[len(events) - count :] if count else ()

    def since(self, seq: int) -> tuple[Event, ...]:
        """The kept events numbered after `seq`, oldest first."""
        return tuple(e for e in self._events if e.seq > seq)

    def __len__(self) -> int:
        return len(self._events)

    def __iter__(self) -> Iterator[Event]:
        return iter(tuple(self._events))
