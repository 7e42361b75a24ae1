"""Snapshots: compact, deterministic, round-trip exact, and garbage refused without harm.

The random test also checks every result against an independent reference model."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentinel.kvraft import (
    Append,
    Cas,
    Delete,
    Get,
    KVStateMachine,
    Put,
    Register,
    Result,
    ResultCode,
    SnapshotError,
    encode_command,
)
from sentinel.kvraft.binary import uint_bytes
from sentinel.kvraft.keyspace import Keyspace

OK = ResultCode.OK


def submit(sm: KVStateMachine, command) -> Result:
    data = command if isinstance(command, bytes) else encode_command(command)
    return sm.apply(sm.applied_index + 1, data)


def test_snapshot_size_for_the_6824_workload():
    """TestSnapshotSize: 200 x (put x=0, get, put x=1, get) from one clerk: <= 500 bytes."""
    sm = KVStateMachine()
    cid = submit(sm, Register()).client_id
    seq = 0
    for _ in range(200):
        for value in ("0", "1"):
            seq += 1
            assert submit(sm, Put("x", value, cid, seq)).ok
            assert sm.read("x") == Result(OK, value)
    snapshot = sm.snapshot()
    print(f"snapshot bytes: {len(snapshot)}")
    assert len(snapshot) <= 500
    restored = KVStateMachine()
    restored.restore(snapshot)
    assert restored.read("x") == Result(OK, "1")
    assert submit(restored, Put("x", "1", cid, seq)) == Result(OK, duplicate=True)


def test_same_log_same_bytes_and_a_restored_copy_gives_them_again():
    one, two = KVStateMachine(), KVStateMachine()
    for sm in (one, two):
        cid = submit(sm, Register()).client_id
        for seq, key in enumerate("cba", start=1):
            submit(sm, Put(key, key.upper(), cid, seq))
        submit(sm, Delete("b", cid, 4))
        submit(sm, Put("b", "B", cid, 5))
    assert one.snapshot() == two.snapshot()
    copy = KVStateMachine()
    copy.restore(one.snapshot())
    assert copy.snapshot() == one.snapshot()


def test_restore_replaces_everything_and_reports_the_index():
    source = KVStateMachine()
    cid = submit(source, Register()).client_id
    submit(source, Put("k", "v", cid, 1))
    target = KVStateMachine()
    other = submit(target, Register()).client_id
    submit(target, Put("old", "gone", other, 1))
    target.restore(source.snapshot())
    assert target.applied_index == source.applied_index == 2
    assert target.read("old") == Result(ResultCode.NO_KEY)
    assert target.snapshot() == source.snapshot()
    assert target.stats() == source.stats()


def test_restore_expires_down_to_its_own_bound():
    big = KVStateMachine(sessions_max=10)
    ids = [submit(big, Register()).client_id for _ in range(5)]
    small = KVStateMachine(sessions_max=2)
    small.restore(big.snapshot())
    assert small.stats().sessions == 2
    assert submit(small, Put("k", "v", ids[0], 1)).code is ResultCode.SESSION_EXPIRED
    assert submit(small, Put("k", "v", ids[-1], 1)).ok


def _valid_snapshot() -> bytes:
    sm = KVStateMachine()
    cid = submit(sm, Register()).client_id
    submit(sm, Put("key", "value", cid, 1))
    submit(sm, Put("other", "v2", cid, 2))
    return sm.snapshot()


def _with_crc(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "big")


GOOD = _valid_snapshot()


_KEYSPACE = Keyspace().encode()


def _body(applied: int, sessions: bytes, keyspace: bytes = _KEYSPACE) -> bytes:
    """A version-2 snapshot body: applied index, stamp 0, the keyspace, then `sessions`
    (count, then client_id, seq, code, last_index, reply length + reply each)."""
    return (
        b"KVS\x02" + uint_bytes(applied) + b"\x00" + uint_bytes(len(keyspace)) + keyspace + sessions
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"", "not a key/value snapshot"),
        (b"garbage!", "not a key/value snapshot"),
        (b"KVS\x03" + GOOD[4:], "not a key/value snapshot"),  # a future version
        (b"KVS\x01" + GOOD[4:], "version-1 key/value snapshot"),  # the str store's
        (b"KVS\x02", "truncated snapshot"),
        (GOOD[:-1] + bytes([GOOD[-1] ^ 1]), "checksum mismatch"),
        (GOOD[:10] + bytes([GOOD[10] ^ 0x40]) + GOOD[11:], "checksum mismatch"),
        (_with_crc(GOOD[:-4] + b"\x00"), "1 trailing bytes"),
        (_with_crc(_body(5, b"\x00", b"RKS\x01garbage")), "RKS|keyspace|truncated|checksum"),
        (_with_crc(_body(5, b"\x01\x01\x01\x09\x01\x00")), "unknown result code 9"),
        (_with_crc(_body(5, b"\x01\x01\x01\x04\x01\x00")), "BAD_COMMAND cannot be"),
        (_with_crc(_body(5, b"\x01\x01\x01\x00\x07\x00")), "out of range"),  # after applied
        (_with_crc(_body(5, b"\x01\x03\x01\x00\x02\x00")), "bad session client id 3"),
        (_with_crc(_body(5, b"\x02\x01\x01\x00\x02\x00\x01\x01\x00\x02\x00")), "bad session"),
        (_with_crc(_body(5, b"\x02\x02\x01\x00\x03\x00\x01\x01\x00\x02\x00")), "out of order"),
        (_with_crc(_body(5, b"\x01\x01\x01\x00\x02\x05ab")), "truncated"),  # the reply
        ("KVS\x02", "must be bytes, not str"),
    ],
)
def test_garbage_snapshot_is_refused_and_changes_nothing(data, problem):
    sm = KVStateMachine()
    cid = submit(sm, Register()).client_id
    submit(sm, Put("mine", "kept", cid, 1))
    before = sm.snapshot()
    with pytest.raises(SnapshotError, match=problem):
        sm.restore(data)
    assert sm.snapshot() == before
    assert submit(sm, Append("mine", "!", cid, 2)).ok  # still serving


def test_every_truncation_of_a_snapshot_is_refused():
    for cut in range(len(GOOD)):
        with pytest.raises(SnapshotError):
            KVStateMachine().restore(GOOD[:cut])


@given(st.binary(max_size=64))
def test_random_bytes_restore_or_raise_snapshot_error(data):
    sm = KVStateMachine()
    try:
        sm.restore(data)
    except SnapshotError:
        assert sm.applied_index == 0 and sm.stats().keys == 0


# -- random logs, checked against a reference model and across snapshot/restore ------------

KEYS = ("a", "b", "ü")
VALUES = ("", "1", "xy")
step = st.one_of(
    st.tuples(st.just("register")),
    st.tuples(
        st.just("write"),
        st.integers(0, 7),  # which registered client (counted from the newest)
        st.sampled_from(("put", "append", "delete", "cas")),
        st.sampled_from(KEYS),
        st.sampled_from(VALUES),
        st.sampled_from((None, *VALUES)),
    ),
    st.tuples(st.just("retry"), st.integers(0, 7), st.integers(0, 2)),
    st.tuples(st.just("get"), st.sampled_from(KEYS)),
    st.tuples(st.just("unknown"), st.integers(1, 2**62 - 1)),
    st.tuples(st.just("garbage"), st.binary(max_size=6)),
    st.tuples(st.just("noop")),
)


def build_log(steps) -> list[bytes]:
    """Entries a set of clients would produce; client ids are their Register's log index."""
    log: list[bytes] = []
    clients: list[int] = []
    sent: dict[int, list[bytes]] = {}
    for kind, *args in steps:
        if kind == "register" or (kind in ("write", "retry") and not clients):
            log.append(encode_command(Register()))
            clients.append(len(log))
            sent[len(log)] = []
        elif kind == "write":
            pick, op, key, value, expected = args
            cid = clients[-1 - pick % len(clients)]
            seq = len(sent[cid]) + 1
            command = {
                "put": Put(key, value, cid, seq),
                "append": Append(key, value, cid, seq),
                "delete": Delete(key, cid, seq),
                "cas": Cas(key, expected, value, cid, seq),
            }[op]
            sent[cid].append(encode_command(command))
            log.append(sent[cid][-1])
        elif kind == "retry":
            pick, back = args
            history = sent[clients[-1 - pick % len(clients)]]
            log.append(history[-1 - back % len(history)] if history else b"")
        elif kind == "get":
            log.append(encode_command(Get(args[0])))
        elif kind == "unknown":
            log.append(encode_command(Put("a", "u", args[0], 1)))
        elif kind == "garbage":
            log.append(b"\xff" + args[0])
        else:
            log.append(b"")
    return log


class ReferenceKV:
    """A deliberately plain re-statement of the rules, to check KVStateMachine against."""

    def __init__(self, sessions_max: int) -> None:
        self.sessions_max = sessions_max
        self.data: dict[str, str] = {}
        self.sessions: dict[int, list] = {}  # client -> [seq, code, last_index]

    def apply(self, index: int, entry: bytes) -> tuple:
        from sentinel.kvraft import CommandError, decode_command

        if entry == b"":
            return (OK, None, False, 0)
        try:
            command = decode_command(entry)
        except CommandError:
            return (ResultCode.BAD_COMMAND, None, False, 0)
        if isinstance(command, Get):
            value = self.data.get(command.key)
            return (OK if value is not None else ResultCode.NO_KEY, value, False, 0)
        if isinstance(command, Register):
            self.sessions[index] = [0, OK, index]
            if len(self.sessions) > self.sessions_max:
                oldest = min(self.sessions, key=lambda c: (self.sessions[c][2], c))
                del self.sessions[oldest]
            return (OK, None, False, index)
        session = self.sessions.get(command.client_id)
        if session is None:
            return (ResultCode.SESSION_EXPIRED, None, False, 0)
        session[2] = index
        if command.seq == session[0]:
            return (session[1], None, True, 0)
        if command.seq < session[0]:
            return (ResultCode.STALE_REQUEST, None, False, 0)
        code = self.write(command)
        session[0], session[1] = command.seq, code
        return (code, None, False, 0)

    def write(self, command) -> ResultCode:
        current = self.data.get(command.key)
        if isinstance(command, Put):
            self.data[command.key] = command.value
        elif isinstance(command, Append):
            self.data[command.key] = (current or "") + command.value
        elif isinstance(command, Delete):
            if current is None:
                return ResultCode.NO_KEY
            del self.data[command.key]
        elif current == command.expected:
            self.data[command.key] = command.new
        else:
            return ResultCode.CAS_MISMATCH
        return OK


def as_tuple(result: Result) -> tuple:
    return (result.code, result.value, result.duplicate, result.client_id)


@settings(max_examples=200, deadline=None)
@given(st.lists(step, max_size=60), st.integers(1, 4), st.data())
def test_snapshot_anywhere_restore_continue_equals_uninterrupted(steps, sessions_max, data):
    log = build_log(steps)
    cut = data.draw(st.integers(0, len(log)), label="snapshot after entry")
    reference = ReferenceKV(sessions_max)
    whole = KVStateMachine(sessions_max)
    results = []
    for index, entry in enumerate(log, start=1):
        results.append(whole.apply(index, entry))
        assert as_tuple(results[-1]) == reference.apply(index, entry), f"entry {index}"
        assert whole.stats().sessions <= sessions_max
    for key in KEYS:
        assert whole.read(key).value == reference.data.get(key)

    first = KVStateMachine(sessions_max)
    for index, entry in enumerate(log[:cut], start=1):
        first.apply(index, entry)
    snapshot = first.snapshot()
    second = KVStateMachine(sessions_max)
    second.restore(snapshot)
    assert second.snapshot() == snapshot
    for index, entry in enumerate(log[cut:], start=cut + 1):
        assert second.apply(index, entry) == results[index - 1]
    assert second.snapshot() == whole.snapshot()
    assert second.stats().bytes_held == whole.stats().bytes_held
