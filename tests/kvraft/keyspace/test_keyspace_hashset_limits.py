"""The bounds of hashes and sets: bytes per element checked before the log (`validate`, and
again at apply), elements per collection checked at apply; a command over a bound answers
an error and changes nothing."""

from __future__ import annotations

import pytest

from sentinel.kvraft.keyspace import Keyspace, typed, validate
from sentinel.kvraft.keyspace.members import Hash, RedisSet
from sentinel.kvraft.limits import ELEMENT_BYTES_MAX
from sentinel.kvraft.snapshot import SnapshotError
from tests.kvraft.keyspace.helpers import Client

BIG = b"x" * (ELEMENT_BYTES_MAX + 1)
OK_SIZE = b"x" * ELEMENT_BYTES_MAX


@pytest.mark.parametrize(
    "args",
    [
        [b"SADD", b"s", b"a", BIG],
        [b"HSET", b"h", b"f", BIG],
        [b"HSET", b"h", BIG, b"v"],
        [b"HSETNX", b"h", b"f", BIG],
        [b"HINCRBY", b"h", BIG, b"1"],
        [b"SMOVE", b"s", b"t", BIG],
    ],
)
def test_an_oversize_element_is_refused_before_the_log_and_at_apply(args: list[bytes]) -> None:
    text = f"ERR element is {len(BIG)} bytes; the limit is {ELEMENT_BYTES_MAX} bytes"
    error = validate(args)
    assert error is not None and error.text == text
    ks = Keyspace()
    assert ks.apply(args, 1000).text == text  # type: ignore[union-attr]
    assert len(ks) == 0


def test_an_element_at_the_bound_and_reads_of_big_arguments_pass() -> None:
    assert validate([b"SADD", b"s", OK_SIZE]) is None
    assert validate([b"SISMEMBER", b"s", BIG]) is None  # nothing is stored
    assert validate([b"SREM", b"s", BIG]) is None


def test_growth_past_the_element_bound_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typed, "COLLECTION_ELEMENTS_MAX", 3)
    too_many = "-ERR a collection holds at most 1000000 elements"
    r = Client()
    assert r("SADD", "s", "a", "b") == 2
    before = r.ks.encode()
    for command in (
        ("SADD", "s", "c", "d"),
        ("SUNIONSTORE", "u", "s", "t"),
    ):
        r("SADD", "t", "x", "y")
        before = r.ks.encode()
        assert r(*command) == too_many, command
        assert r.ks.encode() == before
    assert r("SADD", "s", "c") == 1  # up to the bound is fine
    assert r("SMOVE", "t", "s", "x") == too_many
    r("HSET", "h", "a", "1", "b", "2", "c", "3")
    before = r.ks.encode()
    for command in (
        ("HSET", "h", "d", "4"),
        ("HSETNX", "h", "d", "4"),
        ("HINCRBY", "h", "d", "1"),
        ("HINCRBYFLOAT", "h", "d", "1"),
    ):
        assert r(*command) == too_many, command
    assert r.ks.encode() == before
    assert r("HSET", "h", "a", "9") == 0  # changing a field does not grow the hash


def test_a_snapshot_refuses_collections_that_break_the_bounds() -> None:
    good = RedisSet([b"a", b"b"]).to_payload()
    assert RedisSet.from_payload(good) == RedisSet([b"a", b"b"])
    with pytest.raises(SnapshotError, match="repeats"):
        RedisSet.from_payload(good.replace(b"ab", b"aa"))
    with pytest.raises(SnapshotError, match="empty or over"):
        RedisSet.from_payload(RedisSet().to_payload())
    with pytest.raises(SnapshotError, match="truncated"):
        Hash.from_payload(Hash([(b"f", b"v")]).to_payload()[:-1])
    with pytest.raises(SnapshotError, match="trailing"):
        Hash.from_payload(Hash([(b"f", b"v")]).to_payload() + b"!")
    with pytest.raises(SnapshotError, match="over the size limit"):
        RedisSet.from_payload(b"\x01\x00\x00\x00" + (len(BIG)).to_bytes(4, "little") + BIG)
