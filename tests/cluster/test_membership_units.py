"""Membership in the supervisor's records and views, without processes: members.json, the
leader's view of learners on each node, `status --json`'s "members", the dashboard's
learner label and promotion event, the `members` table."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import pytest
from rich.console import Console

from sentinel.cluster import members
from sentinel.cluster.table import members_table
from sentinel.cluster.views import membership_view, view_to_json
from sentinel.dashboard import ClusterView, NodeView, ProcessState, derive_events
from sentinel.dashboard.render import _role_cell, render_header
from sentinel.host.nodestatus import NodeStatus


def leader_status(**fields: object) -> NodeStatus:
    base = NodeStatus(2, 100, "LEADER", 3, 2, 50, 50, 200, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                      0, 0, 0, 0, {})  # fmt: skip
    return dataclasses.replace(base, **fields)  # type: ignore[arg-type]


def test_members_json_round_trip_and_fallback(tmp_path: Path) -> None:
    assert members.load(tmp_path) is None
    assert members.current_ids(tmp_path, (1, 2, 3)) == (1, 2, 3)
    members.save(tmp_path, (4, 2, 3), id_max=4, conf_index=9)
    assert members.load(tmp_path) == {"members": [2, 3, 4], "id_max": 4, "conf_index": 9}
    assert members.current_ids(tmp_path, (1, 2, 3)) == (2, 3, 4)
    (tmp_path / members.MEMBERS_NAME).write_text('{"members": ["x"]}')
    with pytest.raises(members.MembershipError, match="no valid members"):
        members.load(tmp_path)
    assert members.current_ids(tmp_path, (1, 2, 3)) == (1, 2, 3)


def test_the_leader_says_who_is_a_learner_and_how_far_it_caught_up() -> None:
    lead = leader_status(voters=(1, 2, 3), learners=(4,), conf_index=7, learner_match={4: 50})
    learner = membership_view(NodeView(4, ProcessState.RUNNING, role="follower"), lead)
    voter = membership_view(NodeView(1, ProcessState.RUNNING, role="follower"), lead)
    assert (learner.member, learner.catch_up_percent) == ("learner", 25)
    assert (voter.member, voter.catch_up_percent) == ("voter", None)
    assert membership_view(voter, None) is voter  # no leader: nothing said
    assert "learner · joining: caught up 25%" in _role_cell(learner, 2).plain
    assert _role_cell(learner, 2, short=True).plain == "lrn 25%"
    view = ClusterView(nodes=(voter, learner), leader=2, term=3)
    out = view_to_json(view)
    assert out["members"] == {"voters": [1], "learners": [4], "conf_index": 0}
    assert out["nodes"][1]["catch_up_percent"] == 25
    receiving = membership_view(
        NodeView(4, ProcessState.RUNNING, role="follower"),
        dataclasses.replace(lead, learner_match={4: 0}, learner_snapshot={4: (3 << 20, 8 << 20)}),
    )  # a learner still taking the leader's snapshot: how much of it it holds
    assert (receiving.catch_up_percent, receiving.snapshot_percent) == (0, 37)
    assert "learner · joining: snapshot 37%" in _role_cell(receiving, 2).plain
    assert _role_cell(receiving, 2, short=True).plain == "lrn snap 37%"
    assert view_to_json(ClusterView(nodes=(receiving,)))["nodes"][0]["snapshot_percent"] == 37
    assert learner.snapshot_percent is None
    promoted = ClusterView(nodes=(voter, dataclasses.replace(learner, member="voter")))
    texts = [e.text for e in derive_events(view, promoted)]
    assert "node 4 promoted to voter" in texts
    header = render_header(
        dataclasses.replace(view, nodes=(dataclasses.replace(voter, conf_index=7),))
    )
    console = Console(record=True, width=120, color_system=None, file=io.StringIO())
    console.print(header)
    assert "config 7" in console.export_text()


def test_members_table() -> None:
    table = members_table({"leader": 2, "conf_index": 7, "members": [
        {"id": 2, "role": "voter", "match": 200, "pid": 100, "directory": "/d/node-2"},
        {"id": 4, "role": "learner", "match": 50, "pid": None, "directory": "/d/node-4"},
    ]})  # fmt: skip
    lines = table.splitlines()
    assert lines[0] == "leader 2, configuration index 7"
    assert lines[1].split() == ["id", "role", "match", "pid", "directory"]
    assert lines[3].split() == ["4", "learner", "50", "-", "/d/node-4"]
