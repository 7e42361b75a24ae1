"""`status` as a plain text table (from the same JSON object `status --json` prints), and
a line saying why for each node that ended without being told to or cannot persist."""

from __future__ import annotations

from typing import Any

from sentinel.dashboard import format_bytes, format_duration

COLUMNS = (
    ("node", "id"),
    ("pid", "pid"),
    ("state", "state"),
    ("group", "group"),
    ("role", "role"),
    ("term", "term"),
    ("leader", "leader"),
    ("log", "log_len"),
    ("commit", "commit"),
    ("applied", "applied"),
    ("snap", "snapshot_index"),
    ("disk", "disk_bytes"),
)


def _cell(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key == "disk_bytes":
        return format_bytes(value)
    return str(value)


def _node_cell(node: dict[str, Any], key: str) -> str:
    if key == "disk_bytes" and node.get("disk_error"):
        return "FULL"  # as the dashboard marks it; the line below the table says why
    return _cell(key, node.get(key))


def members_table(members: dict[str, Any]) -> str:
    """`members` as a header line and one aligned row per member."""
    head = f"leader {members.get('leader')}, configuration index {members.get('conf_index')}"
    keys = ("id", "role", "match", "pid", "directory")
    rows = [list(keys)] + [[_cell(k, m.get(k)) for k in keys] for m in members["members"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(keys))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join([head, *lines])


def _leadership(status: dict[str, Any]) -> str:
    """`leader 2, term 7`; for a sharded cluster (one leader per raft group) what the
    figures aggregate: `groups 4, leaders 4/4, max term 7`."""
    shards = status.get("shards")
    if shards is not None:
        groups = shards.get("groups", [])
        led = sum(g.get("leader") is not None for g in groups)
        return f"groups {len(groups)}, leaders {led}/{len(groups)}, max term {status.get('term')}"
    leader = status.get("leader")
    return f"leader {leader if leader is not None else 'none'}, term {status.get('term')}"


def status_table(status: dict[str, Any]) -> str:
    """A header line and one aligned row per node."""
    head = (
        f"cluster {status.get('cluster_id', '?')} in {status.get('cluster_dir', '?')}: "
        f"{_leadership(status)}, "
        f"{status.get('elections', 0)} elections, up {format_duration(status.get('uptime_s', 0))}"
        f", network {status.get('preset')}"
    )
    rows = [[title for title, _ in COLUMNS]]
    for node in status.get("nodes", []):
        rows.append([_node_cell(node, key) for _, key in COLUMNS])
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    nodes = status.get("nodes", [])
    whys = [
        f"node {node.get('id')} {node.get('state')}: {node['exit_reason']}"
        for node in nodes
        if node.get("exit_reason")
    ] + [
        f"node {node.get('id')} cannot persist: {node['disk_error']}"
        for node in nodes
        if node.get("disk_error")
    ]
    return "\n".join([head, *lines, *whys])
