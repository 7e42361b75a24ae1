"""Snapshots of lists and sorted sets: random command sequences applied, snapshotted,
restored and compared (state, versions, later replies), deterministic bytes, and refusal of
payloads no keyspace could hold."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

from sentinel.kvraft.keyspace import Keyspace, snapshot
from sentinel.kvraft.keyspace.lists import ListValue
from sentinel.kvraft.keyspace.values import TypeTag
from sentinel.kvraft.keyspace.zsets import ZSet
from sentinel.kvraft.snapshot import SnapshotError
from tests.kvraft.keyspace.helpers import args_of, collection_commands

NOW = 1_000_000
WATCHED = [b"a", b"b", b"c", b"never"]


def run(ks: Keyspace, commands: list[list[bytes]], now_ms: int) -> list[object]:
    return [ks.apply(command, now_ms + i) for i, command in enumerate(commands)]


@settings(max_examples=200)
@given(history=collection_commands(60), future=collection_commands(30))
def test_a_restored_keyspace_is_the_same_and_answers_the_same(
    history: list[list[bytes]], future: list[list[bytes]]
) -> None:
    ks = Keyspace()
    run(ks, history, NOW)
    data = ks.encode()
    restored = Keyspace.decode(data)
    assert restored.encode() == data
    assert restored.items() == ks.items()
    later = NOW + 100
    assert restored.versions(WATCHED, later) == ks.versions(WATCHED, later)
    assert run(restored, future, later) == run(ks, future, later)
    assert restored.encode() == ks.encode()


def test_the_same_state_gives_the_same_bytes_whatever_the_order() -> None:
    one, other = Keyspace(), Keyspace()
    for command in [("ZADD", "z", 1, "a", 2, "b", 2, "c"), ("RPUSH", "l", "x", "y")]:
        one.apply(args_of(*command), NOW)
    later = [("RPUSH", "l", "y"), ("LPUSH", "l", "x"), ("ZADD", "z", 2, "c"),
             ("ZADD", "z", 5, "b"), ("ZADD", "z", 1, "a"), ("ZADD", "z", 2, "b")]  # fmt: skip
    for command in later:
        other.apply(args_of(*command), NOW)
    assert one.items() == other.items()
    assert snapshot.PAYLOAD_CODECS[TypeTag.ZSET][0](one.items()[1][1]) == (
        snapshot.PAYLOAD_CODECS[TypeTag.ZSET][0](other.items()[1][1])
    )


def test_scores_round_trip_exactly() -> None:
    ks = Keyspace()
    scores = [b"-inf", b"inf", b"0.1", b"-0", b"1e-300", b"1.7976931348623157e308", b"3"]
    for number, score in enumerate(scores):
        ks.apply([b"ZADD", b"z", score, b"m%d" % number], NOW)
    restored = Keyspace.decode(ks.encode())
    assert restored.items() == ks.items()
    assert restored.apply([b"ZSCORE", b"z", b"m2"], NOW) == ks.apply([b"ZSCORE", b"z", b"m2"], NOW)


def _zset_payload(pairs: list[tuple[float, bytes]]) -> bytes:
    zset = ZSet()
    zset.order = list(pairs)  # type: ignore[assignment]  # unchecked, to build bad payloads
    return snapshot.PAYLOAD_CODECS[TypeTag.ZSET][0](zset)


@pytest.mark.parametrize(
    ("pairs", "problem"),
    [([(1.0, b"a"), (2.0, b"a")], "repeats a member"),
     ([(1.0, b"a"), (1.0, b"a")], "repeats a member"),
     ([(math.nan, b"a")], "NaN")],
)  # fmt: skip
def test_bad_sorted_set_payloads_are_refused(pairs: list, problem: str) -> None:  # type: ignore[type-arg]
    decode = snapshot.PAYLOAD_CODECS[TypeTag.ZSET][1]
    with pytest.raises(SnapshotError, match=problem):
        decode(_zset_payload(pairs))


def test_an_unsorted_sorted_set_payload_restores_sorted() -> None:
    zset = snapshot.PAYLOAD_CODECS[TypeTag.ZSET][1](_zset_payload([(2.0, b"a"), (1.0, b"b")]))
    assert list(zset.order) == [(1.0, b"b"), (2.0, b"a")]  # type: ignore[union-attr]


def test_bad_list_payloads_are_refused() -> None:
    encode, decode = snapshot.PAYLOAD_CODECS[TypeTag.LIST]
    good = encode(ListValue([b"a", b"bc"]))
    assert decode(good) == ListValue([b"a", b"bc"])
    with pytest.raises(SnapshotError, match="of 0 elements"):
        decode(encode(ListValue()))
    for bad in (good[:-1], good + b"x", good[:5]):
        with pytest.raises(SnapshotError, match=r"payload of|truncated"):
            decode(bad)
