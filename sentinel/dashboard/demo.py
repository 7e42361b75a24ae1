"""A realistic, fixed sample ClusterView (README, `--sample`, tests) and a toy live cluster.

`DemoCluster` plays the supervisor's part with no processes at all: actions change the sample's
fields, and `derive_events` + an `EventLog` turn the changes into events, the way the real
supervisor is meant to. It is for trying the keys (`python -m sentinel.dashboard --demo`).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time

from sentinel.dashboard.events import derive_events
from sentinel.dashboard.keys import Action, ActionName
from sentinel.dashboard.records import (
    ClusterView,
    Event,
    EventKind,
    EventLog,
    NodeView,
    ProcessState,
    Role,
    RouterTotals,
)

MIB = 1024 * 1024


def sample_view(node_count: int = 5) -> ClusterView:
    """Node 2 leads term 7; node 4 was killed; node 5 lags behind; a few events so far."""
    assert 1 <= node_count <= 99, node_count
    leader = 2 if node_count >= 2 else 1
    nodes = tuple(_sample_node(i, leader) for i in range(1, node_count + 1))
    events = (
        Event(0.4, EventKind.INFO, f"cluster up: {node_count} nodes, network reliable", 1),
        Event(1.2, EventKind.ELECTION, "term 1", 2),
        Event(1.3, EventKind.LEADER, "node 1 is leader in term 1", 3),
        Event(61.0, EventKind.NETWORK, "network unreliable (drop 10%, delay 0-27ms)", 4),
        Event(95.8, EventKind.SNAPSHOT, f"node {leader} snapshot at index 1000", 5),
        Event(140.2, EventKind.KILL, "node 1 killed (pid 41201)", 6),
        Event(140.9, EventKind.ELECTION, "term 7 (was 1)", 7),
        Event(141.0, EventKind.LEADER, f"node {leader} is leader in term 7, was node 1", 8),
        Event(150.5, EventKind.RESTART, "node 1 running again (pid 41377)", 9),
        Event(201.7, EventKind.KILL, "node 4 killed (pid 41206)", 10),
    )
    return ClusterView(
        nodes=nodes,
        totals=RouterTotals(
            msgs_per_s=1843.0, bytes_per_s=412.0 * 1024, dropped=1207, delayed=388, in_flight=14
        ),
        leader=leader,
        term=7,
        elections=3,
        uptime_s=205.3,
        preset="unreliable",
        cluster_dir=f"/tmp/sentinel-{node_count}n-a1b2",
        events=events,
    )


def _sample_node(node_id: int, leader: int) -> NodeView:
    if node_id == 4:
        return NodeView(node_id=4, state=ProcessState.KILLED, group=None, disk_bytes=3_310_000)
    is_leader = node_id == leader
    lag = 0 if node_id != 5 else 37
    commit = 1562 - lag
    return NodeView(
        node_id=node_id,
        state=ProcessState.RUNNING,
        pid=41200 + node_id if node_id != 1 else 41377,
        role=Role.LEADER if is_leader else Role.FOLLOWER,
        term=7,
        leader_id=leader,
        log_length=1564 - lag,
        commit_index=commit,
        applied_index=commit - (1 if node_id == 3 else 0),
        snapshot_index=1000,
        disk_bytes=3_400_000 + 7_919 * node_id,
        cpu_percent=14.2 if is_leader else 4.0 + node_id * 0.7,
        rss_bytes=int((38.5 + node_id * 0.3) * MIB),
        msgs_in_per_s=180.0 if is_leader else 95.0,
        msgs_out_per_s=410.0 if is_leader else 92.0,
    )


class DemoCluster:
    """A fake cluster driven by dashboard actions; thread-safe view() and act()."""

    def __init__(self, node_count: int = 5, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._log = EventLog()
        self._log.extend(sample_view(node_count).events)
        self._view = dataclasses.replace(sample_view(node_count), events=())
        self._started_at = time.monotonic()
        self._pid_next = 50_000

    def view(self) -> ClusterView:
        """The current snapshot, uptime running."""
        with self._lock:
            uptime_s = self._view.uptime_s + time.monotonic() - self._started_at
            return dataclasses.replace(self._view, uptime_s=uptime_s, events=self._log.recent())

    def act(self, action: Action) -> str:
        """Apply one action to the fake cluster; a message for the footer."""
        with self._lock:
            before = self._view_now()
            self._view, message = self._apply(action)
            self._log.extend(derive_events(before, self._view_now()))
            return message

    def _view_now(self) -> ClusterView:
        uptime_s = self._view.uptime_s + time.monotonic() - self._started_at
        return dataclasses.replace(self._view, uptime_s=uptime_s)

    def _apply(self, action: Action) -> tuple[ClusterView, str]:
        v = self._view
        name, nid = action.name, action.node_id
        if name in (ActionName.KILL, ActionName.PAUSE, ActionName.RESUME, ActionName.RESTART):
            assert nid is not None
            nodes = tuple(self._node_after(n, name) if n.node_id == nid else n for n in v.nodes)
            leader = None if nid == v.leader and name == ActionName.KILL else v.leader
            return dataclasses.replace(v, nodes=nodes, leader=leader), f"{action.describe()}: ok"
        if name == ActionName.TOGGLE_UNRELIABLE:
            preset = "reliable" if v.preset != "reliable" else "unreliable"
            return dataclasses.replace(v, preset=preset), f"network {preset}"
        if name == ActionName.HEAL:
            return self._grouped(v, {}), "healed"
        if name == ActionName.ISOLATE_LEADER:
            if v.leader is None:
                return v, "no leader to isolate"
            return self._grouped(v, {v.leader: "B"}), f"node {v.leader} isolated"
        if name == ActionName.PARTITION_RANDOM:
            ids = list(v.node_ids)
            self._rng.shuffle(ids)
            minority = set(ids[: max(1, len(ids) // 2)])
            return self._grouped(v, dict.fromkeys(minority, "B")), "random partition"
        return v, f"{action.describe()}: not in the demo"

    def _grouped(self, v: ClusterView, groups: dict[int, str]) -> ClusterView:
        labels = {n.node_id: (groups.get(n.node_id, "A") if groups else None) for n in v.nodes}
        nodes = tuple(dataclasses.replace(n, group=labels[n.node_id]) for n in v.nodes)
        return dataclasses.replace(v, nodes=nodes)

    def _node_after(self, n: NodeView, name: ActionName) -> NodeView:
        if name == ActionName.KILL:
            return NodeView(n.node_id, ProcessState.KILLED, group=n.group, disk_bytes=n.disk_bytes)
        if name == ActionName.PAUSE and n.state == ProcessState.RUNNING:
            return dataclasses.replace(n, state=ProcessState.PAUSED, cpu_percent=0.0)
        if name == ActionName.RESUME and n.state == ProcessState.PAUSED:
            return dataclasses.replace(n, state=ProcessState.RUNNING)
        if name == ActionName.RESTART:
            self._pid_next += 1
            return dataclasses.replace(
                _sample_node(n.node_id, leader=0), pid=self._pid_next, group=n.group
            )
        return n
