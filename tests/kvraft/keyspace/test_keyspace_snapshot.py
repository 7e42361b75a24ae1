"""Keyspace snapshots: exact round trips, determinism, refusal of bad bytes, and speed."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given

from sentinel.kvraft.keyspace import Keyspace
from sentinel.kvraft.snapshot import SnapshotError
from tests.kvraft.keyspace.helpers import args_of, random_commands

NOW = 1_000_000
WATCHED = [b"a", b"b", b"c", b"d\x00\r\n", b"never"]


def run(ks: Keyspace, commands: list[list[bytes]], now_ms: int = NOW) -> list[object]:
    replies = []
    for i, command in enumerate(commands):
        replies.append(ks.apply(command, now_ms + i))
    return replies


@given(history=random_commands(), future=random_commands())
def test_a_restored_keyspace_is_the_same_and_answers_the_same(
    history: list[list[bytes]], future: list[list[bytes]]
) -> None:
    ks = Keyspace()
    run(ks, history)
    data = ks.encode()
    restored = Keyspace.decode(data)
    assert restored.encode() == data
    assert restored.items() == ks.items()
    later = NOW + 40
    assert restored.versions(WATCHED, later) == ks.versions(WATCHED, later)
    assert restored.expired_keys(later, 10) == ks.expired_keys(later, 10)
    assert run(restored, future, later) == run(ks, future, later)
    assert restored.encode() == ks.encode()


@given(history=random_commands())
def test_the_same_commands_give_the_same_bytes(history: list[list[bytes]]) -> None:
    one, other = Keyspace(), Keyspace()
    run(one, history)
    run(other, history)
    assert one.encode() == other.encode()


def test_an_empty_keyspace_round_trips() -> None:
    data = Keyspace().encode()
    assert Keyspace.decode(data).encode() == data


def _resealed(body: bytes) -> bytes:
    return body + zlib.crc32(body).to_bytes(4, "big")


def test_bad_bytes_are_refused_with_a_reason() -> None:
    ks = Keyspace()
    ks.apply(args_of("SET", "a", "1", "PX", "100"), NOW)
    ks.apply(args_of("SET", "b", "2"), NOW)
    data = ks.encode()
    body = data[:-4]
    with pytest.raises(SnapshotError, match="checksum"):
        Keyspace.decode(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(SnapshotError, match="not a keyspace snapshot"):
        Keyspace.decode(b"KVS\x01" + data[4:])
    with pytest.raises(SnapshotError, match="truncated"):
        Keyspace.decode(_resealed(body[:-3]))
    with pytest.raises(SnapshotError, match="trailing"):
        Keyspace.decode(_resealed(body + b"x"))
    with pytest.raises(SnapshotError, match="must be bytes"):
        Keyspace.decode("text")  # type: ignore[arg-type]
    tags_at = 4 + 40 + 2 * 4  # header, then two 4-byte key sizes
    with pytest.raises(SnapshotError, match="unknown value type"):
        Keyspace.decode(_resealed(body[:tags_at] + b"\x09" + body[tags_at + 1 :]))
    keys_at = body.index(b"ab")
    with pytest.raises(SnapshotError, match="increasing order"):
        Keyspace.decode(_resealed(body[:keys_at] + b"ba" + body[keys_at + 2 :]))


def test_a_large_snapshot_restores_exactly() -> None:
    """Many keys, some with expiry, survive encode and decode byte for byte. (Its speed is
    measured by benchmarks/keyspace_snapshot.py, not here: a timed test is a flaky test.)"""
    ks = Keyspace()
    for i in range(20_000):
        command = [b"SET", b"key:%08d" % i, b"value-%d" % i]
        if i % 4 == 0:
            command += [b"PX", b"60000"]
        ks.apply(command, NOW)
    data = ks.encode()
    restored = Keyspace.decode(data)
    assert len(restored) == 20_000
    assert restored.encode() == data
    assert restored.apply([b"PTTL", b"key:00000000"], NOW) == ks.apply(
        [b"PTTL", b"key:00000000"], NOW
    )
