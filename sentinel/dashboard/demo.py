"""A realistic, fixed sample ClusterView: for the README, `--sample` and the tests."""

from __future__ import annotations

from sentinel.dashboard.records import (
    ClusterView,
    Event,
    EventKind,
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
        cluster_dir="/tmp/sentinel-5n-a1b2",
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
