"""Derive events from two successive cluster snapshots (pure).

The supervisor only hands over snapshots; comparing the previous one with the current one tells
what happened in between: a new leader or term (in a sharded cluster, a new leader of
a group), a process killed, exited (by itself), paused,
resumed or restarted, a snapshot taken, the network partitioned or healed, the fault preset
switched. Events carry `time_s = current.uptime_s` and `seq = 0`; an `EventLog` numbers them.
"""

from __future__ import annotations

from sentinel.dashboard.records import (
    ClusterView,
    Event,
    EventKind,
    NodeView,
    ProcessState,
    ShardsView,
)
from sentinel.dashboard.shards import group_name

_STATE_KINDS = {
    ProcessState.KILLED: EventKind.KILL,
    ProcessState.EXITED: EventKind.ERROR,
    ProcessState.PAUSED: EventKind.PAUSE,
    ProcessState.RESTARTING: EventKind.RESTART,
}


def derive_events(previous: ClusterView | None, current: ClusterView) -> list[Event]:
    """What changed from `previous` to `current`, in a stable order. No events for the first."""
    if previous is None:
        return []
    t = current.uptime_s
    texts: list[tuple[EventKind, str]] = []
    texts += _leadership_changes(previous, current)
    texts += _partition_changes(previous, current)
    if current.preset != previous.preset:
        texts.append((EventKind.NETWORK, f"network {current.preset} (was {previous.preset})"))
    for node in current.nodes:
        before = previous.node(node.node_id)
        if before is None:
            role = " as a learner" if node.member == "learner" else ""
            texts.append((EventKind.INFO, f"node {node.node_id} joined{role} ({node.state})"))
            continue
        texts += _process_changes(before, node)
        texts += _snapshot_changes(before, node)
        texts += _disk_changes(before, node)
        if before.member == "learner" and node.member == "voter":
            texts.append((EventKind.INFO, f"node {node.node_id} promoted to voter"))
    for node in previous.nodes:
        if current.node(node.node_id) is None:
            texts.append((EventKind.INFO, f"node {node.node_id} removed"))
    return [Event(time_s=t, kind=kind, text=text) for kind, text in texts]


def _leadership_changes(prev: ClusterView, cur: ClusterView) -> list[tuple[EventKind, str]]:
    out: list[tuple[EventKind, str]] = []
    term_rose = cur.term is not None and (prev.term is None or cur.term > prev.term)
    if cur.shards is not None and prev.shards is not None:
        out += _group_leader_changes(prev.shards, cur.shards)
    elif term_rose:
        was = "" if prev.term is None else f" (was {prev.term})"
        out.append((EventKind.ELECTION, f"term {cur.term}{was}"))
    if cur.elections > prev.elections:
        count = cur.elections - prev.elections
        noun = "election" if count == 1 else "elections"
        out.append((EventKind.ELECTION, f"{count} {noun} started, {cur.elections} so far"))
    if cur.leader != prev.leader:
        if cur.leader is None:
            out.append((EventKind.LEADER, f"no leader (node {prev.leader} lost leadership)"))
        else:
            was = "" if prev.leader is None else f", was node {prev.leader}"
            term = "" if cur.term is None else f" in term {cur.term}"
            out.append((EventKind.LEADER, f"node {cur.leader} is leader{term}{was}"))
    return out


def _group_leader_changes(prev: ShardsView, cur: ShardsView) -> list[tuple[EventKind, str]]:
    """A sharded cluster's leader changes, group by group (`g2: node 203 is leader in term
    4, was node 201`)."""
    before = {g.gid: g for g in prev.groups}
    out: list[tuple[EventKind, str]] = []
    for group in cur.groups:
        old = before.get(group.gid)
        if old is None or group.leader == old.leader:
            continue
        name = group_name(group.gid)
        if group.leader is None:
            out.append((EventKind.LEADER, f"{name}: no leader (node {old.leader} lost leadership)"))
            continue
        was = "" if old.leader is None else f", was node {old.leader}"
        term = "" if group.term is None else f" in term {group.term}"
        out.append((EventKind.LEADER, f"{name}: node {group.leader} is leader{term}{was}"))
    return out


def partition_groups(view: ClusterView) -> tuple[tuple[int, ...], ...]:
    """The partition as sorted groups of node ids; `()` when the network is whole."""
    labels = {n.group for n in view.nodes}
    if labels <= {None} or len(labels) == 1:
        return ()
    groups: dict[str, list[int]] = {}
    for n in view.nodes:
        # A node with no label sits alone: the supervisor did not place it in any group.
        key = n.group if n.group is not None else f"\0{n.node_id}"
        groups.setdefault(key, []).append(n.node_id)
    return tuple(sorted(tuple(sorted(g)) for g in groups.values()))


def describe_partition(groups: tuple[tuple[int, ...], ...]) -> str:
    """`{1,2} | {3,4,5}` or `whole` for no partition."""
    if not groups:
        return "whole"
    return " | ".join("{" + ",".join(str(i) for i in g) + "}" for g in groups)


def _partition_changes(prev: ClusterView, cur: ClusterView) -> list[tuple[EventKind, str]]:
    before, after = partition_groups(prev), partition_groups(cur)
    if before == after:
        return []
    if not after:
        return [(EventKind.HEAL, f"network healed (was {describe_partition(before)})")]
    return [(EventKind.PARTITION, f"split {describe_partition(after)}")]


def _process_changes(before: NodeView, after: NodeView) -> list[tuple[EventKind, str]]:
    if before.state == after.state:
        if before.pid is not None and after.pid is not None and before.pid != after.pid:
            return [(EventKind.RESTART, f"node {after.node_id} restarted (pid {after.pid})")]
        return []
    nid = after.node_id
    pid = "" if after.pid is None else f" (pid {after.pid})"
    if after.state == ProcessState.RUNNING:
        if before.state == ProcessState.PAUSED:
            return [(EventKind.RESUME, f"node {nid} resumed")]
        return [(EventKind.RESTART, f"node {nid} running again{pid}")]
    was_pid = "" if before.pid is None else f" (pid {before.pid})"
    why = f": {after.exit_reason}" if after.exit_reason else ""
    verb = {
        ProcessState.KILLED: f"killed{was_pid}{why}",
        ProcessState.EXITED: f"exited by itself{was_pid}{why}",
        ProcessState.PAUSED: "paused",
        ProcessState.RESTARTING: "restarting",
    }[after.state]
    return [(_STATE_KINDS[after.state], f"node {nid} {verb}")]


def _disk_changes(before: NodeView, after: NodeView) -> list[tuple[EventKind, str]]:
    if after.disk_error and not before.disk_error:  # (its text changes as the disk fills)
        return [(EventKind.ERROR, f"node {after.node_id}: {after.disk_error}")]
    if before.disk_error and not after.disk_error and after.role is not None:
        return [(EventKind.INFO, f"node {after.node_id} can persist again")]
    return []


def _snapshot_changes(before: NodeView, after: NodeView) -> list[tuple[EventKind, str]]:
    # Both must be known: a restarted node reporting the snapshot it loaded is not a new one.
    if before.snapshot_index is None or after.snapshot_index is None:
        return []
    if after.snapshot_index <= before.snapshot_index:
        return []
    return [(EventKind.SNAPSHOT, f"node {after.node_id} snapshot at index {after.snapshot_index}")]
