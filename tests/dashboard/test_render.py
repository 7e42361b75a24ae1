"""Rendering from fixed snapshots: frames at 80 and 120 columns, formats, the plain line."""

from __future__ import annotations

import dataclasses

import pytest

from sentinel.dashboard import (
    Event,
    EventKind,
    ProcessState,
    RedisTotals,
    RouterTotals,
    format_bytes,
    format_count,
    format_duration,
    format_percent,
    format_rate,
    plain_event_line,
    plain_status_line,
    render,
)
from sentinel.dashboard.records import GroupView, ShardsView
from sentinel.dashboard.render import LEADER_MARK, render_footer

KEY_LABELS = ["k<n> kill", "p<n> pause", "r<n> resume", "s<n> restart", "i isolate leader"]
KEY_LABELS += ["x random partition", "h heal", "u unreliable on/off", "q quit"]


def row(text: str, node_id: int) -> str:
    """The table row of `node_id` (its first cell is the id, maybe with the leader mark)."""
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] in (str(node_id), f"{LEADER_MARK}{node_id}"):
            return line
    raise AssertionError(f"no row for node {node_id} in:\n{text}")


def assert_fits(text: str, width: int) -> None:
    assert max(len(line) for line in text.splitlines()) <= width
    assert "…" not in text, f"something was cut at width {width}:\n{text}"


def test_sample_at_120_columns(sample, render_text) -> None:
    text = render_text(render(sample, width=120, notice="kill node 4: done"), width=120)
    assert_fits(text, 120)
    assert f"leader {LEADER_MARK} node 2  term 7  elections 3  up 3m25s  network unreliable" in text
    assert "router 1.8k msg/s  412 KiB/s  dropped 1.2k  delayed 388  in flight 14" in text
    assert "partition whole  dir /tmp/sentinel-5n-a1b2" in text
    for header in ("pid", "state", "grp", "role", "term", "ldr", "log", "commit", "applied"):
        assert header in text
    for header in ("snap", "disk", "cpu", "rss", "in/s", "out/s"):
        assert header in text
    leader = " ".join(row(text, 2).split())
    assert leader == f"{LEADER_MARK}2 41202 running — LEADER 7 2 1564 1562 1562 1000 3.26 MiB " + (
        "14% 39.1 MiB 180 410"
    )
    killed = " ".join(row(text, 4).split())
    assert killed == "4 — KILLED — — — — — — — — 3.16 MiB — — — —"
    assert row(text, 5).split()[7:11] == ["1527", "1525", "1525", "1000"]
    assert "events (last 8 of 10)" in text
    assert "00:02:21 leader    node 2 is leader in term 7, was node 1" in text
    assert "00:03:21 kill      node 4 killed (pid 41206)" in text
    assert "cluster up" not in text  # older than the 8 shown
    for label in KEY_LABELS:
        assert label in text
    assert text.rstrip().endswith("kill node 4: done")


def test_sample_at_80_columns_folds_columns(sample, render_text) -> None:
    text = render_text(render(sample, width=80), width=80)
    assert_fits(text, 80)
    assert "log/commit/appl/snap" in text and "msg in/out" in text
    header = " ".join(next(line for line in text.splitlines() if "state" in line).split())
    # no pid, disk or grp column: the network is not partitioned
    assert header == "id state role term ldr log/commit/appl/snap cpu rss msg in/out"
    leader = " ".join(row(text, 2).split())
    assert leader == f"{LEADER_MARK}2 run LEADER 7 2 1564/1562/1562/1000 14% 39.1M 180/410"
    assert row(text, 4).split() == ["4", "KILLED"] + ["—"] * 7
    for label in KEY_LABELS:
        assert label in text


@pytest.mark.parametrize("width", [80, 100, 120, 160])
def test_fifteen_nodes_fit(width, make_node, make_view, render_text) -> None:
    # Below 120 columns: realistic large figures; from 120 on: extreme ones.
    big = width >= 120
    nodes = [
        make_node(
            i,
            pid=4_000_000 + i,
            role="pre-candidate" if i == 15 else "follower",
            state=ProcessState.RESTARTING if i == 14 else ProcessState.RUNNING,
            group="A" if i <= 7 else "B",
            term=12345 if big else 123,
            leader_id=1,
            log_length=123_456 if big else 12_345,
            commit_index=123_450 if big else 12_340,
            applied_index=123_449 if big else 12_339,
            snapshot_index=120_000 if big else 12_000,
            disk_bytes=987_654_321,
            cpu_percent=99.5,
            rss_bytes=1023 * 1024 * 1024,
            msgs_in_per_s=12_345.0,
            msgs_out_per_s=99_999.0,
        )
        for i in range(1, 16)
    ]
    v = make_view(*nodes, leader=1, term=nodes[0].term)
    text = render_text(render(v, width=width), width=width)
    assert_fits(text, width)
    for i in range(1, 16):
        assert row(text, i)
    assert "{1,2,3,4,5,6,7} | {8,9,10,11,12,13,14,15}" in text
    assert "grp" in text  # partitioned: the group column shows even when narrow
    assert "precand" in row(text, 15) or "pre-candidate" in row(text, 15)
    assert "restart" in row(text, 14)


def test_unknown_everything(make_view, render_text) -> None:
    from sentinel.dashboard import NodeView

    v = make_view(
        NodeView(1, ProcessState.PAUSED, pid=77),
        NodeView(2, ProcessState.KILLED),
        totals=RouterTotals(),
        leader=None,
        term=None,
        events=(),
        cluster_dir="",
    )
    for width in (80, 120):
        text = render_text(render(v, width=width), width=width)
        assert_fits(text, width)
        assert "leader none  term —" in text
        assert "router —  —  dropped —  delayed —  in flight —" in text
        assert "PAUSED" in row(text, 1) and "KILLED" in row(text, 2)
        assert LEADER_MARK not in text
        assert "no events yet" in text


def test_height_shrinks_event_pane(sample, render_text) -> None:
    tall = render_text(render(sample, width=100, height=60), width=100, height=60)
    short = render_text(render(sample, width=100, height=24), width=100, height=24)
    assert "events (last 10 of 10)" in tall  # the pane fills the room there is
    # 24 lines = header 5 + table 4 + 5 nodes + events borders 2 + footer 3 (two of keys) + 5
    assert "events (last 5 of 10)" in short
    assert len(short.splitlines()) <= 24


def test_colours_mark_roles_and_states(sample) -> None:
    import io

    from rich.console import Console

    console = Console(record=True, width=120, file=io.StringIO(), color_system="truecolor")
    console.print(render(sample, width=120))
    html = console.export_html(inline_styles=True)
    assert "LEADER" in html and "KILLED" in html
    assert "#800000" in html or "#ff0000" in html  # the killed row is red


def test_footer_packs_keys_without_splitting(render_text) -> None:
    for width in (40, 80, 120):
        text = render_text(render_footer("hello", width=width), width=width)
        lines = text.splitlines()
        for label in KEY_LABELS:
            assert any(label in line for line in lines), (width, label)
        assert lines[-1] == "hello"
    prompt = render_text(render_footer("hello", "kill node _ (nodes 1-5)"), width=80)
    assert prompt.splitlines()[-1] == "> kill node _ (nodes 1-5)"


def test_plain_status_line(sample) -> None:
    line = plain_status_line(sample)
    assert "\n" not in line
    assert line == (
        "up=3m25s leader=2 term=7 elections=3 net=unreliable partition=whole "
        "msgs/s=1.8k bytes/s=412K dropped=1207 delayed=388 inflight=14 | "
        f"1:F/t7/c1562 {LEADER_MARK}2:L/t7/c1562 3:F/t7/c1562 4:killed 5:F/t7/c1525"
    )


def test_the_redis_front_door_shows_in_the_header_and_the_plain_line(sample, render_text) -> None:
    with_redis = dataclasses.replace(sample, redis=RedisTotals("127.0.0.1:7379", 3, 1250.0))
    text = render_text(render(with_redis, width=160), width=160)
    assert "redis 127.0.0.1:7379" in text and "conns 3" in text and "1.2k cmd/s" in text
    assert " redis=127.0.0.1:7379 conns=3 cmd/s=1.2k |" in plain_status_line(with_redis)
    assert "redis" not in render_text(render(sample, width=160), width=160)


def test_plain_event_line() -> None:
    event = Event(3725.9, EventKind.PARTITION, "partition {1,2} | {3,4,5}", seq=4)
    assert plain_event_line(event) == "[01:02:05] partition: partition {1,2} | {3,4,5}"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.00 KiB"),
        (1536, "1.50 KiB"),
        (12.34 * 1024**2, "12.3 MiB"),
        (512 * 1024**3, "512 GiB"),
        (3 * 1024**5, "3072 TiB"),
    ],
)
def test_format_bytes(value, text) -> None:
    assert format_bytes(value) == text


def test_format_counts_rates_durations_percents() -> None:
    assert [format_count(v) for v in (None, 0, 7, 2.5, 999, 1000, 1234, 56_789, 5.6e6)] == [
        "—", "0", "7", "2.5", "999", "1.0k", "1.2k", "57k", "5.6M"
    ]  # fmt: skip
    assert format_rate(1843) == "1.8k/s" and format_rate(None) == "—"
    assert format_rate(412 * 1024, "B") == "412 KiB/s"
    assert format_rate(20, " msg") == "20 msg/s"
    assert [format_duration(s) for s in (None, 0, 42.9, 185, 3723, 2 * 86400 + 3 * 3600)] == [
        "—", "0s", "42s", "3m05s", "1h02m03s", "2d03h"
    ]  # fmt: skip
    assert [format_percent(p) for p in (None, 3.46, 14.2, 100.0)] == ["—", "3.5%", "14%", "100%"]


def test_a_node_that_cannot_persist_shows_full_in_the_disk_column(
    make_node, make_view, render_text
) -> None:
    v = make_view(make_node(1, disk_bytes=5_000), make_node(2, disk_error="disk full: quota"))
    text = render_text(render(v, width=120), width=120)
    assert "FULL" in row(text, 2) and "FULL" not in row(text, 1)


def test_a_sharded_cluster_header_says_what_it_aggregates(
    make_node, make_view, render_text
) -> None:
    groups = (GroupView(0, 1, 2, 3), GroupView(1, 102, 7, 3), GroupView(2, None, 5, 3))
    shards = ShardsView(3, (1,) * 5 + (2,) * 5, groups)
    nodes = [make_node(1, role="leader", term=2), make_node(2, term=2),
             make_node(101, term=7), make_node(102, role="leader", term=7),
             make_node(201, role="candidate", term=5)]  # fmt: skip
    sharded = make_view(*nodes, leader=None, term=7, elections=9, shards=shards)
    text = render_text(render(sharded, width=120), width=120)
    assert "groups 3  leaders 2/3  max term 7  elections 9" in text
    assert "leader none" not in text and "leader " + LEADER_MARK not in text
    marked = {n: row(text, n).split()[0].startswith(LEADER_MARK) for n in (1, 2, 101, 102, 201)}
    assert marked == {1: True, 2: False, 101: False, 102: True, 201: False}  # each group's
    line = plain_status_line(sharded)
    assert "groups=3 leaders=2/3 maxterm=7 elections=9" in line and "leader=" not in line
    assert f" {LEADER_MARK}1:L/" in line and f" {LEADER_MARK}102:L/" in line
    assert " 201:C/" in line
