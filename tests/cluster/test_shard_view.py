"""The sharded cluster's figures for the dashboard and `status --json`: from the nodes'
status reports, each group's leader, term and applied configuration, the controller's
shard map and the shards in flight (a receiver pulling, the giver holding them frozen);
and the sharded layout on disk (a new one, the same one recovered, a different one refused).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from sentinel.cluster.settings import SettingsError
from sentinel.cluster.shardlayout import ShardLayout, open_layout
from sentinel.cluster.shardsup import shards_view
from sentinel.dashboard import ClusterView
from sentinel.dashboard.render import plain_status_line, render
from sentinel.dashboard.shards import shards_to_json
from sentinel.host.nodestatus import NodeStatus


def _status(node_id: int, role: str, term: int, app: dict[str, int]) -> NodeStatus:
    return NodeStatus(
        node_id, 1000 + node_id, role, term, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 1, app,
    )  # fmt: skip


def test_groups_map_and_shards_in_flight() -> None:
    owners = {f"shard{i}": 1 if i < 5 else 2 for i in range(10)}
    statuses = {
        1: _status(1, "LEADER", 2, {"config_num": 3, "ctl": 1, **owners}),
        2: _status(2, "FOLLOWER", 2, {"config_num": 3, "ctl": 1, **owners}),
        101: _status(101, "FOLLOWER", 4, {"config_num": 3, "bepulled": 1 << 7}),
        102: _status(102, "LEADER", 4, {"config_num": 3, "bepulled": 1 << 7}),
        201: _status(201, "LEADER", 1, {"config_num": 3, "pulling": 1 << 7}),
        202: _status(202, "LEADER", 0, {"config_num": 2}),  # a stale term: not the leader
    }
    view = shards_view(statuses, groups=2)
    assert view.config_num == 3 and view.owners == (1,) * 5 + (2,) * 5
    assert [(g.gid, g.leader, g.term, g.config_num) for g in view.groups] == [
        (0, 1, 2, 3), (1, 102, 4, 3), (2, 201, 1, 3),
    ]  # fmt: skip
    assert view.in_flight == ((7, 1, 2),)
    cluster = ClusterView(nodes=(), shards=view)
    console = Console(width=160, record=True)
    console.print(render(cluster, width=160))
    text = console.export_text()
    assert "g1 leader 102 term 4" in text and "7 g1->g2" in text and "9:g2" in text
    assert "cfg=3 map=g1,g1,g1,g1,g1,g2,g2,g2,g2,g2 moving=7:g1>g2" in plain_status_line(cluster)
    assert shards_to_json(view)["in_flight"] == [[7, 1, 2]]


def test_nothing_known_yet() -> None:
    view = shards_view({}, groups=3)
    assert view.config_num is None and view.owners == () and view.in_flight == ()
    assert [g.leader for g in view.groups] == [None] * 4


def test_layout_on_disk(tmp_path: Path) -> None:
    layout, recovered = open_layout(tmp_path, 2, 3)
    assert not recovered and layout.node_ids == (1, 2, 3, 101, 102, 103, 201, 202, 203)
    assert layout.peers(202) == (201, 202, 203) and layout.peers(3) == (1, 2, 3)
    again, recovered = open_layout(tmp_path, None, None)
    assert recovered and again == layout
    with pytest.raises(SettingsError, match="2 groups of 3 nodes"):
        open_layout(tmp_path, 3, None)
    with pytest.raises(SettingsError, match="--groups must be 1 to 9"):
        ShardLayout("x", 10, 3)
