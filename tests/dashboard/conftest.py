"""Shared helpers for the dashboard tests: fixed snapshots and text capture."""

from __future__ import annotations

import io

import pytest
from rich.console import Console, RenderableType

from sentinel.dashboard import ClusterView, Event, EventKind, NodeView, ProcessState, RouterTotals
from sentinel.dashboard.demo import sample_view


def render_text(renderable: RenderableType, *, width: int, height: int = 60) -> str:
    """Plain text of a renderable on a fixed-size, colourless console."""
    console = Console(
        record=True, width=width, height=height, color_system=None, file=io.StringIO()
    )
    console.print(renderable)
    return console.export_text()


def node(node_id: int, **fields: object) -> NodeView:
    """A running follower with plausible figures; override any field."""
    base: dict[str, object] = dict(
        node_id=node_id,
        state=ProcessState.RUNNING,
        pid=1000 + node_id,
        role="follower",
        term=3,
        leader_id=1,
        log_length=20,
        commit_index=18,
        applied_index=18,
        snapshot_index=0,
        disk_bytes=4096,
        cpu_percent=1.5,
        rss_bytes=30 * 1024 * 1024,
        msgs_in_per_s=10.0,
        msgs_out_per_s=9.0,
    )
    base.update(fields)
    return NodeView(**base)  # type: ignore[arg-type]


def view(*nodes: NodeView, **fields: object) -> ClusterView:
    """A cluster view around these nodes; override any field."""
    base: dict[str, object] = dict(
        nodes=nodes,
        totals=RouterTotals(msgs_per_s=50.0, bytes_per_s=2048.0, dropped=0, delayed=0, in_flight=1),
        leader=1,
        term=3,
        elections=1,
        uptime_s=12.0,
        preset="reliable",
        cluster_dir="/tmp/c",
        events=(Event(1.0, EventKind.LEADER, "node 1 is leader in term 3", 1),),
    )
    base.update(fields)
    return ClusterView(**base)  # type: ignore[arg-type]


@pytest.fixture
def sample() -> ClusterView:
    """The README's sample: node 2 leads term 7, node 4 is killed."""
    return sample_view(5)


@pytest.fixture(name="render_text")
def render_text_fixture():
    """`render_text(renderable, width=..)`: its plain text."""
    return render_text


@pytest.fixture(name="make_node")
def make_node_fixture():
    """`make_node(id, **fields)`: a running follower."""
    return node


@pytest.fixture(name="make_view")
def make_view_fixture():
    """`make_view(*nodes, **fields)`: a cluster view."""
    return view
