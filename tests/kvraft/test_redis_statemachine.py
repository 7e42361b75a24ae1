"""The state machine with Redis commands: deterministic on every replica, log time from the
stamps (monotonic across a leader change), bounded purges, EXEC as one all-or-nothing entry,
and a retried write applied once (its reply kept for the retry, across a snapshot too)."""

from __future__ import annotations

import pytest

from sentinel.kvraft import InvalidRequest, KVStateMachine, Register, ResultCode
from sentinel.kvraft.codec import decode_entry, encode_command, stamp_entry
from sentinel.kvraft.commands import Purge, RedisExec, RedisRead, RedisVersions, RedisWrite
from sentinel.kvraft.keyspace import (
    Array,
    Bulk,
    Bulks,
    Double,
    Error,
    Int,
    Map,
    Null,
    Pairs,
    Simple,
)
from sentinel.kvraft.logclock import PURGE_BATCH_KEYS_MAX, PURGE_INTERVAL_S, LogClock
from sentinel.kvraft.protocol import check_redis
from sentinel.kvraft.replycodec import ReplyError, decode_reply, encode_reply


def entry(now_ms: int, command) -> bytes:
    return stamp_entry(now_ms, encode_command(command))


def apply(sm: KVStateMachine, data: bytes, term: int = 1):
    return sm.apply(sm.applied_index + 1, data, term)


def reply_of(result) -> object:
    assert result.code is ResultCode.OK, result
    return decode_reply(result.value)


def test_replicas_applying_the_same_entries_hold_the_same_snapshot():
    log = [entry(1000, Register())]
    log += [entry(1000 + i, RedisWrite((b"INCR", b"n"), 1, i)) for i in range(1, 6)]
    log.append(entry(1010, RedisWrite((b"SET", b"t", b"v", b"PX", b"50"), 1, 6)))
    log.append(entry(1020, RedisExec(((b"INCR", b"n"), (b"SET", b"s", b"\x00\r\n")), (), 1, 7)))
    log.append(entry(1100, Purge((b"t",))))
    replicas = [KVStateMachine(), KVStateMachine()]
    for sm in replicas:
        results = [apply(sm, data) for data in log]
    assert replicas[0].snapshot() == replicas[1].snapshot()
    assert reply_of(results[5]) == Int(5)
    assert reply_of(results[7]) == Array((Int(6), Simple("OK")))
    assert len(replicas[0].keyspace) == 2  # the expired key was purged
    copy = KVStateMachine()
    copy.restore(replicas[0].snapshot())
    assert copy.snapshot() == replicas[0].snapshot() and copy.last_stamp_ms == 1100


def test_a_retried_write_is_applied_once_and_answers_its_first_reply():
    sm = KVStateMachine()
    cid = apply(sm, entry(1, Register())).client_id
    first = apply(sm, entry(2, RedisWrite((b"INCRBY", b"n", b"5"), cid, 1)))
    again = apply(sm, entry(3, RedisWrite((b"INCRBY", b"n", b"5"), cid, 1)))
    assert reply_of(first) == Int(5) and again.duplicate and reply_of(again) == Int(5)
    restored = KVStateMachine()
    restored.restore(sm.snapshot())  # the session's reply is in the snapshot
    late = apply(restored, entry(4, RedisWrite((b"INCRBY", b"n", b"5"), cid, 1)))
    assert late.duplicate and reply_of(late) == Int(5)
    assert restored.keyspace.live(b"n", 4) == b"5"


def test_exec_is_one_entry_all_or_nothing_and_watch_aborts_it():
    sm = KVStateMachine()
    cid = apply(sm, entry(1, Register())).client_id
    apply(sm, entry(2, RedisWrite((b"SET", b"a", b"1"), cid, 1)))
    versions = sm.redis_read(RedisVersions((b"a",)), 2)
    (seen,) = decode_reply(versions.value).items
    apply(sm, entry(3, RedisWrite((b"SET", b"a", b"2"), cid, 2)))
    block = ((b"SET", b"a", b"x"), (b"SET", b"b", b"y"))
    aborted = apply(sm, entry(4, RedisExec(block, ((b"a", seen.value),), cid, 3)))
    assert reply_of(aborted) == Null(array=True)
    assert sm.keyspace.live(b"a", 4) == b"2" and sm.keyspace.live(b"b", 4) is None
    ran = apply(sm, entry(5, RedisExec(block, (), cid, 4)))
    assert reply_of(ran) == Array((Simple("OK"), Simple("OK")))


def test_log_time_is_the_stamp_and_stamps_never_go_back_across_a_leader_change():
    old, new = KVStateMachine(), KVStateMachine()
    leader = LogClock(old, wall=lambda: 50_000)
    stamps = [leader.stamp_ms() for _ in range(3)]
    assert stamps == [50_000] * 3
    set_px = RedisWrite((b"SET", b"k", b"v", b"PX", b"100"), 1, 1)
    log = [entry(stamps[0], Register()), entry(stamps[1], set_px)]
    for sm in (old, new):
        for data in log:
            apply(sm, data)
    # the next leader's clock is 10 s behind: its stamps and reads stay at the log's time
    lagging = LogClock(new, wall=lambda: 40_000)
    assert lagging.stamp_ms() == 50_000 and lagging.read_ms() == 50_000
    assert new.value("k", lagging.read_ms()) == "v"
    # an entry stamped lower (a replica's clock) never moves log time back
    apply(new, stamp_entry(45_000, encode_command(RedisWrite((b"GET", b"k"), 1, 2))))
    assert new.last_stamp_ms == 50_000
    # once log time passes the expiry, every read answers absent at once
    apply(new, stamp_entry(50_100, encode_command(RedisWrite((b"INCR", b"x"), 1, 3))))
    assert new.value("k", lagging.read_ms()) is None
    assert new.read("k").code is ResultCode.NO_KEY


def test_purges_are_bounded_one_at_a_time_and_only_on_the_leader():
    sm = KVStateMachine()
    now = {"ms": 1000}
    clock = LogClock(sm, wall=lambda: now["ms"])
    cid = apply(sm, entry(1000, Register())).client_id
    keys = PURGE_BATCH_KEYS_MAX + 500
    args = [b"MSET"] + [part for i in range(keys) for part in (b"k%d" % i, b"v")]
    apply(sm, entry(1000, RedisWrite(tuple(args), cid, 1)))
    block = tuple((b"PEXPIRE", b"k%d" % i, b"10") for i in range(keys))
    apply(sm, entry(1000, RedisExec(block, (), cid, 2)))
    now["ms"] = 2000
    assert clock.purge_due(10.0, is_leader=False) is None
    purge = clock.purge_due(10.0, is_leader=True)
    assert purge is not None and len(purge.keys) == PURGE_BATCH_KEYS_MAX
    clock.purge_proposed(sm.applied_index + 1)
    assert clock.purge_due(10.0 + 10 * PURGE_INTERVAL_S, is_leader=True) is None  # in flight
    data = stamp_entry(clock.stamp_ms(), encode_command(purge))
    assert decode_entry(data) == (2000, purge)
    apply(sm, data)
    clock.applied(sm.applied_index)
    assert len(sm.keyspace) == 500
    assert clock.purge_due(10.0, is_leader=True) is None  # not before the interval
    rest = clock.purge_due(10.0 + 2 * PURGE_INTERVAL_S, is_leader=True)
    assert rest is not None and len(rest.keys) == 500


def test_a_client_cannot_send_a_purge_or_a_write_as_a_read():
    with pytest.raises(InvalidRequest, match="leader"):
        check_redis(Purge((b"k",)))
    with pytest.raises(InvalidRequest, match="write"):
        check_redis(RedisRead((b"SET", b"k", b"v")))
    with pytest.raises(InvalidRequest, match="wrong number"):
        check_redis(RedisWrite((b"SET", b"k"), 1, 1))


@pytest.mark.parametrize(
    "reply",
    [
        Simple("OK"),
        Error("WRONGTYPE Operation against a key holding the wrong kind of value"),
        Int(-(2**63)),
        Int(2**63 - 1),
        Bulk(b"\x00\r\n\xff"),
        Null(),
        Null(array=True),
        Array(()),
        Array((Int(1), Array((Bulk(b"x"), Null())))),
        Double(3.25),
        Map(((Bulk(b"k"), Int(2)),)),
        Pairs((Bulk(b"m"), Double(float("-inf")))),
        Bulks(()),
        Bulks((b"", b"a", b"\x00\r\n" * 100)),
    ],
)
def test_replies_round_trip(reply):
    assert decode_reply(encode_reply(reply)) == reply


@pytest.mark.parametrize(
    "data",
    [b"", b"Z", b"I\x03abc", b"A\x02N", b"B\x05ab", b"SN", b"L\x01\x04\x02\x00\x00\x00\x01a",
     b"L\x02\x04\x01\x00\x00\x00\x01a", b"P\x01"],
)  # fmt: skip
def test_a_malformed_reply_is_refused(data):
    with pytest.raises(ReplyError):
        decode_reply(data)
