"""Records: validation, ordering, and the bounded, numbered EventLog."""

from __future__ import annotations

import dataclasses

import pytest

from sentinel.dashboard import ClusterView, Event, EventKind, EventLog, NodeView, ProcessState


def test_node_view_is_frozen_and_coerces_state() -> None:
    n = NodeView(node_id=3, state="paused")  # type: ignore[arg-type]
    assert n.state is ProcessState.PAUSED
    assert n.role is None and n.term is None and n.cpu_percent is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        n.term = 4  # type: ignore[misc]


def test_node_view_rejects_unknown_state() -> None:
    with pytest.raises(ValueError):
        NodeView(node_id=1, state="sleeping")  # type: ignore[arg-type]


def test_cluster_view_sorts_nodes_and_rejects_duplicates() -> None:
    v = ClusterView(nodes=(NodeView(3, "running"), NodeView(1, "killed")))  # type: ignore[arg-type]
    assert v.node_ids == (1, 3)
    assert v.node(3) is not None and v.node(2) is None
    with pytest.raises(AssertionError, match="duplicate"):
        ClusterView(nodes=(NodeView(1, "running"), NodeView(1, "killed")))  # type: ignore[arg-type]


def test_event_log_numbers_and_bounds() -> None:
    log = EventLog(capacity=3)
    for i in range(5):
        log.record(float(i), EventKind.INFO, f"e{i}")
    assert len(log) == 3 and log.capacity == 3 and log.seq_last == 5
    assert [e.text for e in log] == ["e2", "e3", "e4"]
    assert [e.seq for e in log.recent()] == [3, 4, 5]
    assert [e.text for e in log.recent(2)] == ["e3", "e4"]
    assert log.recent(0) == ()
    assert [e.seq for e in log.since(4)] == [5]
    assert log.since(5) == ()


def test_event_log_renumbers_added_events() -> None:
    log = EventLog()
    added = log.extend([Event(1.0, EventKind.KILL, "a", seq=99), Event(2.0, "heal", "b")])  # type: ignore[arg-type]
    assert [e.seq for e in added] == [1, 2]
    assert added[1].kind is EventKind.HEAL


def test_event_log_rejects_bad_capacity() -> None:
    with pytest.raises(AssertionError):
        EventLog(capacity=0)
