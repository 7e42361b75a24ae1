"""WriteBatch log entries: several sessions' writes in one entry, applied in client id order,
each exactly once under its own session, and deterministic on every replica (snapshots and
session expiry included). Bad batch entries are BAD_COMMAND on every replica alike."""

from __future__ import annotations

import pytest

from sentinel.kvraft import (
    Append,
    Cas,
    CommandError,
    Delete,
    Get,
    KVStateMachine,
    Put,
    Register,
    ResultCode,
    decode_command,
    encode_command,
)
from sentinel.kvraft.codec import WRITE_BATCH_MAX, WriteBatch, encode_write_batch


def entry(*writes) -> bytes:
    return encode_write_batch([encode_command(w) for w in writes])


def registered(sm: KVStateMachine, count: int) -> list[int]:
    ids = []
    for _ in range(count):
        ids.append(sm.apply(sm.applied_index + 1, encode_command(Register())).client_id)
    return ids


def test_a_batch_round_trips_and_applies_each_write_under_its_own_session():
    sm = KVStateMachine()
    a, b, c = registered(sm, 3)
    writes = (Put("k", "1", a, 1), Append("k", "2", b, 1), Cas("k", "12", "3", c, 1))
    data = entry(*writes)
    assert decode_command(data) == WriteBatch(writes)
    results = sm.apply(4, data)
    assert [r.code for r in results] == [ResultCode.OK] * 3
    assert sm.lookup("k").value == "3"  # in order: put, append, cas
    again = sm.apply(5, data)  # the very same writes again: duplicates, nothing applied
    assert [(r.code, r.duplicate) for r in again] == [(ResultCode.OK, True)] * 3
    assert sm.lookup("k").value == "3"
    mixed = sm.apply(6, entry(Delete("k", a, 2), Append("k", "x", b, 1), Put("q", "v", 99, 1)))
    assert [(r.code, r.duplicate) for r in mixed] == [(ResultCode.OK, False),
        (ResultCode.OK, True), (ResultCode.SESSION_EXPIRED, False)]  # fmt: skip
    assert sm.lookup("k").code is ResultCode.NO_KEY


def test_replicas_that_restored_a_snapshot_expire_the_same_sessions():
    """Sessions touched by one batch entry keep the (last index, client id) order that a
    snapshot restores, so a replica restored from a snapshot expires what the others do."""
    live = KVStateMachine(sessions_max=3)
    a, b, c = registered(live, 3)
    live.apply(4, entry(Put("x", "1", a, 1), Put("y", "1", b, 1)))
    restored = KVStateMachine(sessions_max=3)
    restored.restore(live.snapshot())
    for sm in (live, restored):
        sm.apply(5, encode_command(Put("z", "1", c, 1)))
        sm.apply(6, encode_command(Register()))  # the table is full: the oldest goes
    assert live.snapshot() == restored.snapshot()
    for sm in (live, restored):  # a (client id 1) was touched first at index 4: expired
        assert sm.apply(sm.applied_index + 1, encode_command(Put("x", "2", a, 2))).code is (
            ResultCode.SESSION_EXPIRED
        )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (entry(Put("k", "v", 5, 1), Put("k", "v", 3, 1)), "strictly increase"),
        (entry(Put("k", "v", 5, 1), Delete("k", 5, 2)), "strictly increase"),
        (encode_write_batch([encode_command(Register()), encode_command(Put("k", "v", 1, 1))]),
         "writes only"),
        (encode_write_batch([encode_command(Get("k")), encode_command(Put("k", "v", 1, 1))]),
         "writes only"),
        (encode_write_batch([entry(Put("k", "v", 1, 1), Put("k", "v", 2, 1)),
                             encode_command(Put("k", "v", 3, 1))]), "only"),
        (b"K\x01\x07\x01" + bytes([len(encode_command(Put("k", "v", 1, 1)))])
         + encode_command(Put("k", "v", 1, 1)), "out of range"),  # a batch of one
        (b"K\x01\x07\x00", "out of range"),
        (entry(Put("k", "v", 1, 1), Put("k", "v", 2, 1))[:-1], "truncated"),
        (entry(Put("k", "v", 1, 1), Put("k", "v", 2, 1)) + b"\x00", "trailing"),
    ],
)  # fmt: skip
def test_bad_batch_entries_are_refused_and_change_nothing_on_any_replica(data, problem):
    with pytest.raises(CommandError, match=problem):
        decode_command(data)
    replicas = [KVStateMachine(), KVStateMachine()]
    for sm in replicas:
        registered(sm, 3)
        result = sm.apply(4, data)
        assert result.code is ResultCode.BAD_COMMAND and problem.split()[-1] in result.detail
    assert replicas[0].snapshot() == replicas[1].snapshot()
    assert replicas[0].stats().keys == 0


def test_the_encoder_refuses_batches_out_of_its_bounds():
    one = encode_command(Put("k", "v", 1, 1))
    for count in (0, 1, WRITE_BATCH_MAX + 1):
        with pytest.raises(AssertionError):
            encode_write_batch([one] * count)
