"""Pure view functions: a ClusterView in, a rich renderable or a plain line out.

Nothing here reads a clock, a process or a terminal; the same view renders the same frame, which
is what the tests and the README rely on. Below WIDE_COLUMNS the node table folds related
columns together (indices as `log/commit/applied/snap`, messages as `in/out`) and drops the pid
and disk columns, so 80 columns still show every node on one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from sentinel.dashboard.events import describe_partition, partition_groups
from sentinel.dashboard.formatting import (
    UNKNOWN,
    format_bytes,
    format_bytes_short,
    format_clock,
    format_count,
    format_duration,
    format_percent,
    format_rate,
)
from sentinel.dashboard.keys import KEYMAP, KeyBinding, footer_keys
from sentinel.dashboard.records import ClusterView, Event, EventKind, NodeView, ProcessState, Role
from sentinel.dashboard.shards import head_parts, leaders_of, plain_head, plain_shards, shard_lines

LEADER_MARK = "★"
WIDE_COLUMNS = 120
EVENT_LINES_DEFAULT = 8
EVENT_LINES_MIN = 3
# Lines the frame needs besides node rows, event lines and footer: header panel (5), the table's
# blank top, head, rule and blank bottom (4), the events panel's borders (2).
FRAME_LINES_FIXED = 11

ROLE_STYLES = {
    Role.LEADER: "bold green",
    Role.CANDIDATE: "bold yellow",
    Role.PRE_CANDIDATE: "yellow",
    Role.FOLLOWER: "cyan",
}
STATE_STYLES = {
    ProcessState.RUNNING: "green",
    ProcessState.PAUSED: "bold yellow",
    ProcessState.KILLED: "bold red",
    ProcessState.EXITED: "bold red",
    ProcessState.RESTARTING: "magenta",
}
ROW_STYLES = {ProcessState.KILLED: "red", ProcessState.EXITED: "red", ProcessState.PAUSED: "yellow"}
EVENT_STYLES = {
    EventKind.ELECTION: "yellow",
    EventKind.LEADER: "bold green",
    EventKind.KILL: "bold red",
    EventKind.PAUSE: "yellow",
    EventKind.RESUME: "green",
    EventKind.RESTART: "magenta",
    EventKind.PARTITION: "bold magenta",
    EventKind.HEAL: "cyan",
    EventKind.SNAPSHOT: "blue",
    EventKind.NETWORK: "cyan",
    EventKind.ACTION: "white",
    EventKind.ERROR: "bold red",
    EventKind.INFO: "dim",
}


def _num(value: int | None) -> str:
    return UNKNOWN if value is None else str(value)


def leader_text(view: ClusterView) -> str:
    """`node 2` or `none`."""
    return "none" if view.leader is None else f"node {view.leader}"


def _preset_style(preset: str) -> str:
    return "bold" if preset == "reliable" else "bold magenta"


def render_header(view: ClusterView) -> Panel:
    """The cluster line, the router line and the directory line, in a panel. A sharded
    cluster's line says what it aggregates over its raft groups (`head_parts`)."""
    line1 = Text.assemble(
        *_cluster_parts(view),
        ("  up ", "dim"), (format_duration(view.uptime_s), "bold"),
        ("  network ", "dim"), (view.preset, _preset_style(view.preset)),
    )  # fmt: skip
    conf = [n.conf_index for n in view.nodes if n.conf_index is not None]
    if conf and view.shards is None:  # the configuration index the nodes use (the leader's)
        line1.append_text(Text.assemble(("  config ", "dim"), (str(max(conf)), "bold")))
    t = view.totals
    line2 = Text.assemble(
        ("router ", "dim"), (format_rate(t.msgs_per_s, " msg"), "bold"),
        ("  ", ""), (format_rate(t.bytes_per_s, "B"), "bold"),
        ("  dropped ", "dim"), (format_count(t.dropped), "red" if t.dropped else ""),
        ("  delayed ", "dim"), (format_count(t.delayed), "yellow" if t.delayed else ""),
        ("  in flight ", "dim"), (format_count(t.in_flight), ""),
    )  # fmt: skip
    partition = describe_partition(partition_groups(view))
    line3 = Text.assemble(
        ("partition ", "dim"), (partition, "bold magenta" if partition != "whole" else ""),
        *_redis_parts(view),
        ("  dir ", "dim"), (view.cluster_dir or UNKNOWN, ""),
    )  # fmt: skip
    for line in (line1, line2, line3):
        line.no_wrap, line.overflow = True, "ellipsis"
    count = len(view.nodes)
    title = Text(f"Sentinel · {count} node{'' if count == 1 else 's'}", style="bold")
    return Panel(Group(line1, line2, line3), title=title, title_align="left", box=box.ROUNDED)


def _cluster_parts(view: ClusterView) -> list[tuple[str, str] | Text]:
    """`leader ★ node 2  term 7  elections 3`, or a sharded cluster's `head_parts`."""
    if view.shards is not None:
        return list(head_parts(view.shards, view.term, view.elections))
    leader = Text(f"{LEADER_MARK} {leader_text(view)}", style="bold green")
    if view.leader is None:
        leader = Text("none", style="bold red")
    return [("leader ", "dim"), leader, ("  term ", "dim"), (_num(view.term), "bold"),
            ("  elections ", "dim"), (str(view.elections), "bold")]  # fmt: skip


def row_leader(view: ClusterView, node: NodeView) -> int | None:
    """The leader id a node's row is drawn against: the cluster's, or in a sharded cluster
    the node itself when it leads its group."""
    if view.shards is None:
        return view.leader
    return node.node_id if node.node_id in leaders_of(view.shards) else None


def _role(role: str | None) -> Role | None:
    try:
        return Role(role) if role is not None else None
    except ValueError:
        return None


_ROLE_SHORT = {Role.PRE_CANDIDATE: "precand", Role.CANDIDATE: "cand"}
_STATE_SHORT = {ProcessState.RUNNING: "run", ProcessState.RESTARTING: "restart"}


def _role_cell(node: NodeView, leader: int | None, *, short: bool = False) -> Text:
    if node.role is None:
        return Text(UNKNOWN, style="dim")
    role = _role(node.role)
    label = str(node.role)
    if short and role in _ROLE_SHORT:
        label = _ROLE_SHORT[role]
    if node.node_id == leader:
        label = label.upper()
    if node.member == "learner" and node.snapshot_percent is not None:
        pct = f"{node.snapshot_percent}%"
        label = f"learner · joining: snapshot {pct}" if not short else f"lrn snap {pct}"
    elif node.member == "learner":
        pct = "?" if node.catch_up_percent is None else f"{node.catch_up_percent}%"
        label = f"learner · joining: caught up {pct}" if not short else f"lrn {pct}"
    return Text(label, style=ROLE_STYLES.get(role, "") if role is not None else "")


def _state_cell(node: NodeView, *, short: bool = False) -> Text:
    label = _STATE_SHORT.get(node.state, str(node.state)) if short else str(node.state)
    if node.state in (ProcessState.KILLED, ProcessState.EXITED, ProcessState.PAUSED):
        label = label.upper()
    return Text(label, style=STATE_STYLES.get(node.state, ""))


def _id_cell(node: NodeView, leader: int | None) -> Text:
    if node.node_id == leader:
        return Text(f"{LEADER_MARK}{node.node_id}", style="bold green")
    return Text(str(node.node_id))


def _disk_cell(node: NodeView) -> Text | str:
    if node.disk_error:
        return Text("FULL", style="bold red")
    return format_bytes(node.disk_bytes)


def _indices(node: NodeView) -> str:
    parts = (node.log_length, node.commit_index, node.applied_index, node.snapshot_index)
    if all(p is None for p in parts):
        return UNKNOWN
    return "/".join(_num(p) for p in parts)


def _msgs(node: NodeView) -> str:
    if node.msgs_in_per_s is None and node.msgs_out_per_s is None:
        return UNKNOWN
    return f"{format_count(node.msgs_in_per_s)}/{format_count(node.msgs_out_per_s)}"


Cell = Callable[[NodeView, "int | None"], "Text | str"]
_L, _R, _C = "left", "right", "center"

# (header, justify, cell): every per-node field, one column each.
WIDE_COLUMNS_SPEC: tuple[tuple[str, str, Cell], ...] = (
    ("id", _R, _id_cell),
    ("pid", _R, lambda n, _: _num(n.pid)),
    ("state", _L, lambda n, _: _state_cell(n)),
    ("grp", _C, lambda n, _: n.group or UNKNOWN),
    ("role", _L, lambda n, ld: _role_cell(n, ld)),
    ("term", _R, lambda n, _: _num(n.term)),
    ("ldr", _R, lambda n, _: _num(n.leader_id)),
    ("log", _R, lambda n, _: _num(n.log_length)),
    ("commit", _R, lambda n, _: _num(n.commit_index)),
    ("applied", _R, lambda n, _: _num(n.applied_index)),
    ("snap", _R, lambda n, _: _num(n.snapshot_index)),
    ("disk", _R, lambda n, _: _disk_cell(n)),
    ("cpu", _R, lambda n, _: format_percent(n.cpu_percent)),
    ("rss", _R, lambda n, _: format_bytes(n.rss_bytes)),
    ("in/s", _R, lambda n, _: format_count(n.msgs_in_per_s)),
    ("out/s", _R, lambda n, _: format_count(n.msgs_out_per_s)),
)
# Below WIDE_COLUMNS: related fields folded together, pid and disk dropped, short labels.
NARROW_COLUMNS_SPEC: tuple[tuple[str, str, Cell], ...] = (
    ("id", _R, _id_cell),
    ("state", _L, lambda n, _: _state_cell(n, short=True)),
    ("grp", _C, lambda n, _: n.group or UNKNOWN),
    ("role", _L, lambda n, ld: _role_cell(n, ld, short=True)),
    ("term", _R, lambda n, _: _num(n.term)),
    ("ldr", _R, lambda n, _: _num(n.leader_id)),
    ("log/commit/appl/snap", _R, lambda n, _: _indices(n)),
    ("cpu", _R, lambda n, _: format_percent(n.cpu_percent)),
    ("rss", _R, lambda n, _: format_bytes_short(n.rss_bytes)),
    ("msg in/out", _R, lambda n, _: _msgs(n)),
)


def render_nodes(view: ClusterView, *, width: int) -> Table:
    """One row per node; the leader's row is bold, killed rows red and paused rows yellow.

    At narrow widths the partition-group column shows only while the network is partitioned.
    Columns get one space of padding when the widest cells leave room for it, none otherwise.
    """
    spec = WIDE_COLUMNS_SPEC if width >= WIDE_COLUMNS else NARROW_COLUMNS_SPEC
    if width < WIDE_COLUMNS and not partition_groups(view):
        spec = tuple(c for c in spec if c[0] != "grp")
    rows = [[cell(node, row_leader(view, node)) for _, _, cell in spec] for node in view.nodes]
    widths = [
        max([len(header), *(_cell_len(r[i]) for r in rows)])
        for i, (header, _, _) in enumerate(spec)
    ]
    natural = sum(widths) + len(widths) - 1  # the box puts one space between columns
    padding = (0, 1, 0, 0) if natural + len(widths) <= width else 0
    table = Table(box=box.SIMPLE_HEAD, padding=padding, pad_edge=False, expand=False)
    for header, justify, _ in spec:
        table.add_column(header, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for node, cells in zip(view.nodes, rows, strict=True):
        table.add_row(*cells, style=_row_style(node, row_leader(view, node)))
    return table


def _cell_len(cell: Text | str) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(cell)


def _row_style(node: NodeView, leader: int | None) -> str:
    if node.state in ROW_STYLES:
        return ROW_STYLES[node.state]
    return "bold" if node.node_id == leader else ""


def render_events(events: Sequence[Event], *, lines: int = EVENT_LINES_DEFAULT) -> Panel:
    """The newest `lines` events, oldest at the top, in a panel."""
    assert lines >= 0, lines
    shown = list(events)[-lines:] if lines else []
    body = Text(no_wrap=True, overflow="ellipsis")
    for i, event in enumerate(shown):
        if i:
            body.append("\n")
        body.append(format_clock(event.time_s) + " ", style="dim")
        body.append(f"{event.kind.value:<9} ", style=EVENT_STYLES.get(event.kind, ""))
        body.append(event.text)
    if not shown:
        body.append("no events yet", style="dim")
    title = f"events (last {len(shown)} of {len(events)})" if events else "events"
    return Panel(body, title=title, title_align="left", box=box.ROUNDED)


def render_footer(
    notice: str | None = None,
    prompt: str | None = None,
    *,
    width: int = WIDE_COLUMNS,
    keymap: Sequence[KeyBinding] = KEYMAP,
) -> Text:
    """The keys (packed into lines of `width`, never split), then the prompt or last message."""
    text = Text(no_wrap=True, overflow="ellipsis")
    used = 0
    for key, description in footer_keys(keymap):
        item_len = len(key) + 1 + len(description)
        if used and used + 2 + item_len > width:
            text.append("\n")
            used = 0
        elif used:
            text.append("  ")
            used += 2
        text.append(key, style="bold reverse")
        text.append(" " + description, style="dim")
        used += item_len
    text.append("\n")
    if prompt:
        text.append("> " + prompt, style="bold cyan")
    elif notice:
        text.append(notice, style="italic")
    return text


def render(
    view: ClusterView,
    *,
    width: int = WIDE_COLUMNS,
    height: int | None = None,
    notice: str | None = None,
    prompt: str | None = None,
) -> RenderableType:
    """The whole frame: header, node table, events pane and footer.

    With `height` the events pane shrinks (down to EVENT_LINES_MIN lines) so the frame fits.
    """
    footer = render_footer(notice, prompt, width=width)
    lines = EVENT_LINES_DEFAULT
    if height is not None:
        footer_lines = footer.plain.count("\n") + 1
        spare = height - FRAME_LINES_FIXED - len(view.nodes) - footer_lines
        lines = max(EVENT_LINES_MIN, spare - (3 if view.shards is not None else 0))
    return Group(
        render_header(view),
        *(shard_lines(view.shards) if view.shards is not None else ()),
        render_nodes(view, width=width),
        render_events(view.events, lines=lines),
        footer,
    )


def _redis_parts(view: ClusterView) -> list[tuple[str, str]]:
    """The header's Redis figures: address, connections, commands/s (nothing without one)."""
    r = view.redis
    if r is None:
        return []
    return [("  redis ", "dim"), (r.address, "bold"), ("  conns ", "dim"),
            (str(r.connections), "bold"), ("  ", ""),
            (format_rate(r.commands_per_s, " cmd"), "bold")]  # fmt: skip


def plain_status_line(view: ClusterView) -> str:
    """One greppable line: cluster figures, router figures, then `id:role/state` per node."""
    t = view.totals
    cluster = f"leader={_num(view.leader)} term={_num(view.term)} elections={view.elections}"
    if view.shards is not None:
        cluster = plain_head(view.shards, view.term, view.elections)
    head = (
        f"up={format_duration(view.uptime_s)} {cluster} net={view.preset} "
        f"partition={describe_partition(partition_groups(view)).replace(' ', '')} "
        f"msgs/s={format_count(t.msgs_per_s)} bytes/s={format_bytes_short(t.bytes_per_s)} "
        f"dropped={_num(t.dropped)} delayed={_num(t.delayed)} inflight={_num(t.in_flight)}"
    )
    if view.redis is not None:
        r = view.redis
        head += (f" redis={r.address} conns={r.connections}"
                 f" cmd/s={format_count(r.commands_per_s)}")  # fmt: skip
    if view.shards is not None:
        head += plain_shards(view.shards)
    return head + " |" + "".join(" " + _plain_node(n, row_leader(view, n)) for n in view.nodes)


def _plain_node(node: NodeView, leader: int | None) -> str:
    mark = LEADER_MARK if node.node_id == leader else ""
    if node.state != ProcessState.RUNNING:
        return f"{mark}{node.node_id}:{node.state}"
    role = _ROLE_LETTERS.get(_role(node.role), node.role or "?")
    return f"{mark}{node.node_id}:{role}/t{_num(node.term)}/c{_num(node.commit_index)}"


_ROLE_LETTERS = {Role.LEADER: "L", Role.FOLLOWER: "F", Role.CANDIDATE: "C", Role.PRE_CANDIDATE: "P"}


def plain_event_line(event: Event) -> str:
    """`[00:01:23] leader: node 2 is leader in term 7`."""
    return f"[{format_clock(event.time_s)}] {event.kind.value}: {event.text}"
