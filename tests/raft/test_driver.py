"""The node driver (raft/driver.py) on a fake host: the order of a Ready's work, sending
before persisting, a held Ready, ReadIndex and lease reads, compaction."""

from __future__ import annotations

import logging
import random

import pytest

from sentinel.raft import (
    Application,
    Config,
    Entry,
    Message,
    MessageType,
    NodeDriver,
    PersistentState,
    Raft,
    Ready,
    Role,
)
from sentinel.raft.membership import app_data
from sentinel.wire import FRAME_BYTES_MAX


class Host:
    """Records every call in `calls`; `room` False makes saves fail (a full disk)."""

    def __init__(self, calls: list) -> None:
        self.calls = calls
        self.room = True
        self.saved: list[Ready] = []

    def save(self, rd: Ready) -> bool:
        self.calls.append("save")
        if self.room:
            self.saved.append(rd)
        return self.room

    def send(self, messages: tuple[Message, ...]) -> None:
        self.calls.extend(("send", m.type, m.dst) for m in messages)

    def flush(self) -> None:
        pass


class App(Application):
    def __init__(self, calls: list) -> None:
        self.calls = calls
        self.applied = 0

    def apply(self, entry: Entry) -> None:
        self.calls.append(("apply", entry.index))
        self.applied = entry.index

    def read_ready(self, context: bytes) -> None:
        self.calls.append(("read_ready", context))

    def read_failed(self, context: bytes) -> None:
        self.calls.append(("read_failed", context))

    def after_apply(self) -> None:
        self.calls.append("after_apply")


def driver(
    node_id: int = 1, peers: tuple[int, ...] = (1,), lease_s: float = 0.0, **config_fields: int
) -> NodeDriver:
    calls: list = []
    config = Config(node_id, peers, election_ticks=10, heartbeat_ticks=1, **config_fields)
    core = Raft(config, random.Random(node_id), PersistentState())
    return NodeDriver(core, App(calls), Host(calls), lease_s)


def elect_alone(d: NodeDriver) -> None:
    """A one-node cluster elects itself after its election timeout."""
    for _ in range(30):
        d.tick()
        assert d.process(100)
        if d.core.role is Role.LEADER:
            break
    assert d.core.role is Role.LEADER
    d.host.calls.clear()  # type: ignore[attr-defined]


def test_a_follower_persists_before_it_sends_and_applies_after() -> None:
    d = driver(2, (1, 2, 3))
    calls = d.host.calls  # type: ignore[attr-defined]
    entry = Entry(1, 1, b"x")
    d.step(Message(MessageType.APPEND, 1, 2, 1, index=0, log_term=0, entries=(entry,), commit=1))
    assert d.process(100)
    first_send = next(k for k, c in enumerate(calls) if c[0] == "send")
    assert calls.index("save") < first_send < calls.index(("apply", 1))
    assert calls.index(("apply", 1)) < calls.index("after_apply")


def test_a_leader_sends_its_appends_before_its_own_fsync() -> None:
    d = driver(1, (1, 2, 3))
    for _ in range(30):
        d.tick()
        d.process(100)
        if d.core.role is not Role.FOLLOWER:
            break
    assert d.core.role is Role.PRE_CANDIDATE
    d.step(Message(MessageType.PRE_VOTE_RESP, 2, 1, d.core.term + 1))
    d.process(100)
    d.step(Message(MessageType.VOTE_RESP, 2, 1, d.core.term))
    d.process(100)
    assert d.core.role is Role.LEADER
    for follower in (2, 3):  # both have the leader's first entry: they replicate now
        d.step(Message(MessageType.APPEND_RESP, follower, 1, d.core.term, index=1))
    d.process(100)
    calls = d.host.calls  # type: ignore[attr-defined]
    calls.clear()
    d.propose(b"cmd")
    d.process(100)
    appends = [k for k, c in enumerate(calls) if c[:2] == ("send", MessageType.APPEND)]
    assert appends and max(appends) < calls.index("save")


def test_a_ready_the_disk_has_no_room_for_is_held_and_finished_later() -> None:
    d = driver(2, (1, 2, 3))
    host = d.host
    host.room = False  # type: ignore[attr-defined]
    d.step(Message(MessageType.APPEND, 1, 2, 1, entries=(Entry(1, 1, b"x"),), commit=1))
    assert not d.process(100)
    assert d.stalled is not None
    assert not any(c[0] == "send" for c in host.calls)  # type: ignore[attr-defined]
    assert d.app.applied == 0  # type: ignore[attr-defined]
    host.room = True  # type: ignore[attr-defined]
    assert d.process(100)
    assert d.stalled is None and d.app.applied == 1  # type: ignore[attr-defined]
    sends = [c for c in host.calls if c[0] == "send"]  # type: ignore[attr-defined]
    assert sends == [("send", MessageType.APPEND_RESP, 1)]


def test_a_read_is_served_once_applied_and_a_lease_skips_the_round() -> None:
    d = driver(1, (1,), lease_s=1.0)
    elect_alone(d)
    calls = d.host.calls  # type: ignore[attr-defined]
    d.read_index(b"r1", now_s=10.0)
    d.process(100)
    assert ("read_ready", b"r1") in calls
    assert d.lease_until == 11.0  # the round asked at 10.0 was confirmed
    d.read_index(b"r2", now_s=10.5)  # within the lease: no round asked
    assert b"r2" not in d.round_asked
    d.process(100)
    assert ("read_ready", b"r2") in calls


def test_compaction_waits_for_the_batch_and_the_highest_wish_wins() -> None:
    d = driver(1, (1,))
    elect_alone(d)
    for k in range(3):
        d.propose(b"c%d" % k)
    d.process(100)
    applied = d.core.log.applied
    d.compact(applied - 1, b"older")
    d.compact(applied, b"newest")
    d.compact(applied - 2, b"oldest")
    d.propose(b"more")
    d.process(100)
    assert d.core.log.snapshot_index == applied and app_data(d.core.snapshot.data) == b"newest"


def test_a_compaction_asked_between_readys_waits_for_a_held_ready_then_happens() -> None:
    """A snapshot written in the background reaches the core through the driver: at the next
    `process`, and never while a Ready is held for want of disk room."""
    d = driver(1, (1,))
    elect_alone(d)
    d.propose(b"c")
    d.process(100)
    applied = d.core.log.applied
    host = d.host
    host.room = False  # type: ignore[attr-defined]
    d.propose(b"held")
    assert not d.process(100) and d.stalled is not None
    d.compact(applied, b"background")
    assert not d.process(100)
    assert d.core.log.snapshot_index == 0  # not while the Ready is held
    host.room = True  # type: ignore[attr-defined]
    d.process(100)
    assert d.core.log.snapshot_index == applied and app_data(d.core.snapshot.data) == b"background"
    assert d.process(100)  # the compaction's snapshot was saved in a Ready of its own
    assert host.saved[-1].snapshot is not None  # type: ignore[attr-defined]


def test_a_snapshot_over_max_snapshot_bytes_is_skipped_not_fatal(caplog) -> None:
    """The log keeps every entry instead (nothing is lost, the node goes on); the refusal is
    logged once, and a later snapshot that fits compacts as usual. The bound is on the
    snapshot as stored and sent, with its configuration: a follower holds a transfer to it,
    so a leader's snapshot whose data alone fit would be refused by every follower."""
    d = driver(1, (1,), max_snapshot_bytes=200)
    elect_alone(d)
    d.propose(b"c")
    d.process(100)
    applied = d.core.log.applied
    room = 200 - d.core.snapshot_wrap_bytes(applied)
    assert 0 < room < 200  # the configuration takes some of the bound
    with caplog.at_level(logging.ERROR, logger="sentinel.raft.driver"):
        d.compact(applied, b"x" * (room + 1))  # its data alone would fit
        d.propose(b"more")
        assert d.process(100)
        assert not d.snapshot_fits(201)
    assert d.core.log.snapshot_index == 0 and d.core.log.applied == applied + 1
    refusals = [r for r in caplog.records if "over max_snapshot_bytes" in r.getMessage()]
    assert len(refusals) == 1, refusals
    d.compact(applied + 1, b"x" * (200 - d.core.snapshot_wrap_bytes(applied + 1)))
    d.process(100)
    assert d.core.log.snapshot_index == applied + 1 and not d.snapshot_too_big
    assert len(d.core.snapshot.data) == 200


def test_max_snapshot_bytes_may_pass_a_wire_frame_but_a_chunk_may_not() -> None:
    """Snapshots travel in chunks: only a chunk must fit in one frame."""
    big = Config(1, (1,), max_snapshot_bytes=2 * FRAME_BYTES_MAX)
    assert big.max_snapshot_bytes > FRAME_BYTES_MAX
    with pytest.raises(ValueError, match="max_snapshot_chunk_bytes"):
        Config(1, (1,), max_snapshot_chunk_bytes=FRAME_BYTES_MAX)
