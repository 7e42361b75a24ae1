"""The sharded cluster's figures for the dashboard and `status --json`: from the nodes'
status reports, each group's leader, term and applied configuration, the controller's
shard map and the shards in flight (a receiver pulling, the giver holding them frozen);
elections counted and leaders reported per group, the header saying what it aggregates;
and the sharded layout on disk (a new one, the same one recovered, a different one refused;
a plain cluster's identity is not made in a sharded directory).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from sentinel.cluster.settings import SettingsError, open_identity
from sentinel.cluster.shardlayout import ShardLayout, load_cluster, open_layout
from sentinel.cluster.shardsup import ShardViewBuilder, shards_view
from sentinel.cluster.table import status_table
from sentinel.cluster.views import ProcessInfo, view_to_json
from sentinel.dashboard import ClusterView, EventLog, ProcessState
from sentinel.dashboard.render import plain_status_line, render
from sentinel.dashboard.shards import shards_to_json
from sentinel.host.nodestatus import NodeStatus
from sentinel.netsim.faults import PRESETS, make_topology
from sentinel.netsim.protocol import RouterReport
from sentinel.netsim.stats import totals
from sentinel.wire import encode


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


def test_elections_and_leaders_are_per_group() -> None:
    layout = ShardLayout("t", groups=2, nodes=1)  # nodes 1-3 (controller), 101, 201
    builder = ShardViewBuilder("/tmp/x", layout, EventLog())
    procs = {i: ProcessInfo(ProcessState.RUNNING, 1000 + i) for i in layout.node_ids}

    def build(*statuses: NodeStatus) -> ClusterView:
        blobs = {st.node_id: encode(st) for st in statuses}
        report = RouterReport((), totals(()), blobs, PRESETS["reliable"], make_topology([]), 0)
        return builder.build(report, procs)

    ctl = [_status(1, "LEADER", 2, {})] + [_status(i, "FOLLOWER", 2, {}) for i in (2, 3)]
    first = build(*ctl, _status(101, "LEADER", 5, {}), _status(201, "LEADER", 3, {}))
    assert (first.leader, first.term, first.elections) == (None, 5, 3)  # one per group
    then = build(*ctl, _status(101, "LEADER", 5, {}), _status(201, "CANDIDATE", 4, {}))
    assert then.elections == 4  # group 2's term rose; the highest term (5) did not
    texts = [e.text for e in then.events]
    assert "g2: no leader (node 201 lost leadership)" in texts
    assert "1 election started, 4 so far" in texts
    assert not any(t.startswith("term ") or t.startswith("no leader") for t in texts)
    plain = plain_status_line(then)
    assert "groups=3 leaders=2/3 maxterm=5 elections=4" in plain
    table = status_table(view_to_json(then))
    assert "groups 3, leaders 2/3, max term 5, 4 elections" in table


def test_the_identity_of_a_sharded_directory(tmp_path: Path) -> None:
    assert load_cluster(tmp_path) is None
    layout, _ = open_layout(tmp_path, 2, 3)
    assert load_cluster(tmp_path) == layout
    with pytest.raises(SettingsError, match="holds a sharded store"):
        open_identity(tmp_path, 3)  # no cluster.json is written beside shards.json
    assert not (tmp_path / "cluster.json").exists()


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
