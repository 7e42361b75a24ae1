"""derive_events: what changed between two successive snapshots."""

from __future__ import annotations

import dataclasses

from sentinel.dashboard import EventKind, EventLog, ProcessState, derive_events, partition_groups
from sentinel.dashboard.records import GroupView, ShardsView


def kinds_texts(events):
    return [(e.kind, e.text) for e in events]


def test_first_snapshot_has_no_events(make_node, make_view) -> None:
    assert derive_events(None, make_view(make_node(1))) == []


def test_identical_snapshots_have_no_events(make_node, make_view) -> None:
    v = make_view(make_node(1), make_node(2))
    assert derive_events(v, dataclasses.replace(v, uptime_s=99.0)) == []


def test_new_leader_in_new_term(make_node, make_view) -> None:
    before = make_view(make_node(1), make_node(2), leader=1, term=3, elections=1)
    after = make_view(make_node(1), make_node(2), leader=2, term=4, elections=2, uptime_s=20.5)
    events = derive_events(before, after)
    assert kinds_texts(events) == [
        (EventKind.ELECTION, "term 4 (was 3)"),
        (EventKind.ELECTION, "1 election started, 2 so far"),
        (EventKind.LEADER, "node 2 is leader in term 4, was node 1"),
    ]
    assert all(e.time_s == 20.5 and e.seq == 0 for e in events)


def test_leader_lost(make_node, make_view) -> None:
    before = make_view(make_node(1), leader=1)
    after = make_view(make_node(1), leader=None)
    assert kinds_texts(derive_events(before, after)) == [
        (EventKind.LEADER, "no leader (node 1 lost leadership)")
    ]


def test_process_state_changes(make_node, make_view) -> None:
    before = make_view(make_node(1), make_node(2), make_node(3), make_node(4))
    after = make_view(
        make_node(1, state=ProcessState.KILLED, pid=None, role=None),
        make_node(2, state=ProcessState.PAUSED),
        make_node(3, state=ProcessState.RESTARTING, pid=None),
        make_node(4),
    )
    assert kinds_texts(derive_events(before, after)) == [
        (EventKind.KILL, "node 1 killed (pid 1001)"),
        (EventKind.PAUSE, "node 2 paused"),
        (EventKind.RESTART, "node 3 restarting"),
    ]
    again = make_view(
        make_node(1, pid=2001),
        make_node(2),
        make_node(3, pid=2003),
        make_node(4, pid=2004),  # same state, new pid: restarted between two snapshots
    )
    assert kinds_texts(derive_events(after, again)) == [
        (EventKind.RESTART, "node 1 running again (pid 2001)"),
        (EventKind.RESUME, "node 2 resumed"),
        (EventKind.RESTART, "node 3 running again (pid 2003)"),
        (EventKind.RESTART, "node 4 restarted (pid 2004)"),
    ]


def test_a_node_that_ended_by_itself_or_from_outside_says_why(make_node, make_view) -> None:
    before = make_view(make_node(1), make_node(2))
    after = make_view(
        make_node(1, state=ProcessState.EXITED, pid=None, role=None,
                  exit_reason="exit status 2; its log ends: CorruptLogError: wal: ..."),
        make_node(2, state=ProcessState.KILLED, pid=None, role=None,
                  exit_reason="by SIGKILL, from outside"),
    )  # fmt: skip
    assert kinds_texts(derive_events(before, after)) == [
        (EventKind.ERROR, "node 1 exited by itself (pid 1001): exit status 2; its log ends: "
                          "CorruptLogError: wal: ..."),
        (EventKind.KILL, "node 2 killed (pid 1002): by SIGKILL, from outside"),
    ]  # fmt: skip
    again = make_view(make_node(1, pid=2001), make_node(2, pid=2002))
    assert kinds_texts(derive_events(after, again)) == [
        (EventKind.RESTART, "node 1 running again (pid 2001)"),
        (EventKind.RESTART, "node 2 running again (pid 2002)"),
    ]


def test_snapshot_index_increase_only_when_both_known(make_node, make_view) -> None:
    before = make_view(make_node(1, snapshot_index=100), make_node(2, snapshot_index=None))
    after = make_view(make_node(1, snapshot_index=250), make_node(2, snapshot_index=250))
    assert kinds_texts(derive_events(before, after)) == [
        (EventKind.SNAPSHOT, "node 1 snapshot at index 250")
    ]
    lower = make_view(make_node(1, snapshot_index=0), make_node(2, snapshot_index=250))
    assert derive_events(after, lower) == []


def test_partition_and_heal(make_node, make_view) -> None:
    whole = make_view(*(make_node(i) for i in range(1, 6)))
    split = make_view(*(make_node(i, group="A" if i <= 2 else "B") for i in range(1, 6)))
    assert partition_groups(whole) == ()
    assert partition_groups(split) == ((1, 2), (3, 4, 5))
    assert kinds_texts(derive_events(whole, split)) == [
        (EventKind.PARTITION, "split {1,2} | {3,4,5}")
    ]
    isolated = make_view(*(make_node(i, group="A" if i == 1 else "B") for i in range(1, 6)))
    assert kinds_texts(derive_events(split, isolated)) == [
        (EventKind.PARTITION, "split {1} | {2,3,4,5}")
    ]
    assert kinds_texts(derive_events(isolated, whole)) == [
        (EventKind.HEAL, "network healed (was {1} | {2,3,4,5})")
    ]


def test_same_label_everywhere_is_whole(make_node, make_view) -> None:
    assert partition_groups(make_view(make_node(1, group="A"), make_node(2, group="A"))) == ()


def test_nodes_joining_and_leaving(make_node, make_view) -> None:
    before = make_view(make_node(1), make_node(2))
    after = make_view(make_node(1), make_node(3))
    assert kinds_texts(derive_events(before, after)) == [
        (EventKind.INFO, "node 3 joined (running)"),
        (EventKind.INFO, "node 2 removed"),
    ]


def test_membership_events_show_once_each(make_node, make_view) -> None:
    """A learner joining, its promotion and a removal each show once (the `add` / `remove`
    commands add no second event of their own: their output names the indexes)."""
    one, two = make_node(1, member="voter"), make_node(2, member="voter")
    before = make_view(one, two)
    joined = make_view(one, two, make_node(4, member="learner"))
    assert kinds_texts(derive_events(before, joined)) == [
        (EventKind.INFO, "node 4 joined as a learner (running)")
    ]
    promoted = make_view(one, two, make_node(4, member="voter"))
    assert kinds_texts(derive_events(joined, promoted)) == [
        (EventKind.INFO, "node 4 promoted to voter")
    ]
    removed = make_view(one, promoted.nodes[2])
    assert kinds_texts(derive_events(promoted, removed)) == [(EventKind.INFO, "node 2 removed")]


def test_event_log_numbers_derived_events(make_node, make_view) -> None:
    log = EventLog()
    before = make_view(make_node(1), leader=1, term=3)
    after = make_view(make_node(1, state=ProcessState.KILLED), leader=None, term=3)
    numbered = log.extend(derive_events(before, after))
    assert [e.seq for e in numbered] == [1, 2]


def test_preset_switch(make_node, make_view) -> None:
    before = make_view(make_node(1), preset="reliable")
    after = make_view(make_node(1), preset="unreliable")
    assert kinds_texts(derive_events(before, after)) == [
        (EventKind.NETWORK, "network unreliable (was reliable)")
    ]


def test_a_full_disk_is_an_error_event_and_its_end_is_news(make_node, make_view) -> None:
    fine = make_view(make_node(1), make_node(2))
    full = make_view(make_node(1), make_node(2, disk_error="disk full: No space left"))
    assert kinds_texts(derive_events(fine, full)) == [
        (EventKind.ERROR, "node 2: disk full: No space left")
    ]
    fuller = make_view(make_node(1), make_node(2, disk_error="disk full: 10 more bytes"))
    assert derive_events(full, fuller) == []  # said once, however its text changes
    assert kinds_texts(derive_events(full, fine)) == [(EventKind.INFO, "node 2 can persist again")]


def test_a_sharded_cluster_reports_each_groups_leader(make_node, make_view) -> None:
    def sharded(*groups: GroupView, term: int):  # type: ignore[no-untyped-def]
        shards = ShardsView(1, (1,) * 10, groups)
        return make_view(make_node(1), leader=None, term=term, elections=3, shards=shards)

    before = sharded(GroupView(0, 1, 2), GroupView(1, 101, 3), GroupView(2, 201, 4), term=4)
    after = sharded(GroupView(0, 1, 2), GroupView(1, None, 3), GroupView(2, 203, 6), term=6)
    assert kinds_texts(derive_events(before, after)) == [
        (EventKind.LEADER, "g1: no leader (node 101 lost leadership)"),
        (EventKind.LEADER, "g2: node 203 is leader in term 6, was node 201"),
    ]  # no cluster-wide "term 6" or "no leader": each group has its own
