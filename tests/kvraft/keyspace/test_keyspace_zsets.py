"""Sorted set commands of the keyspace: Redis's documented answers, score and range parsing,
the reply shapes (scores as doubles, pairs), bounds, WRONGTYPE and the generic commands."""

from __future__ import annotations

import math

import pytest

from sentinel.kvraft.keyspace import Double, Keyspace, Pairs, zsets
from sentinel.kvraft.keyspace.numbers import parse_double, parse_range_double
from tests.kvraft.keyspace.helpers import Client, args_of

NOT_FLOAT = "-ERR value is not a valid float"
RANGE_NOT_FLOAT = "-ERR min or max is not a float"


@pytest.fixture
def r() -> Client:
    return Client()


@pytest.mark.parametrize(
    ("text", "value"),
    [(b"1", 1.0), (b"-2.5", -2.5), (b"+3", 3.0), (b".5", 0.5), (b"1e3", 1000.0),
     (b"inf", math.inf), (b"-Infinity", -math.inf), (b"0x10", 16.0), (b"nan", None),
     (b" 1", None), (b"1 ", None), (b"", None), (b"1e400", None), (b"1e-400", None),
     (b"1_0", None), (b"abc", None)],
)  # fmt: skip
def test_scores_parse_as_redis_reads_them(text: bytes, value: float | None) -> None:
    assert parse_double(text) == value


def test_range_bounds_parse_as_strtod() -> None:
    assert parse_range_double(b"") == 0.0  # Redis reads "(" as an exclusive 0
    assert parse_range_double(b"  2") == 2.0 and parse_range_double(b"1e400") == math.inf
    assert parse_range_double(b"nan") is None and parse_range_double(b"  ") is None


def test_zadd_options(r: Client) -> None:
    assert r("ZADD", "z", 1, "a", 2, "b") == 2
    assert r("ZADD", "z", "NX", 5, "a", 3, "c") == 1 and r("ZSCORE", "z", "a") == 1.0
    assert r("ZADD", "z", "XX", "CH", 5, "a", 4, "d") == 1 and r("ZSCORE", "z", "d") is None
    assert r("ZADD", "z", "GT", "CH", 4, "a", 3, "b") == 1 and r("ZSCORE", "z", "a") == 5.0
    assert r("ZADD", "z", "LT", "CH", 1, "c", 9, "b") == 1 and r("ZSCORE", "z", "c") == 1.0
    assert r("ZADD", "z", "INCR", 2.5, "a") == 7.5
    assert r("ZADD", "z", "NX", "INCR", 1, "a") is None
    assert r("ZADD", "z", "GT", "INCR", -1, "a") is None
    assert r("ZADD", "none", "XX", 1, "a") == 0 and r("EXISTS", "none") == 0
    assert r("ZADD", "z", "NX", "XX", 1, "a") == (
        "-ERR XX and NX options at the same time are not compatible"
    )
    assert r("ZADD", "z", "GT", "LT", 1, "a") == (
        "-ERR GT, LT, and/or NX options at the same time are not compatible"
    )
    assert r("ZADD", "z", "INCR", 1, "a", 2, "b") == (
        "-ERR INCR option supports a single increment-element pair"
    )
    assert r("ZADD", "z", "NX", 1) == "-ERR syntax error" and r("ZADD", "z", "x", "a") == NOT_FLOAT
    assert r("ZADD", "z", 1, "a", 1, "a") == 0  # a repeated member counts once


def test_nan_scores_are_refused(r: Client) -> None:
    r("ZADD", "z", "inf", "a")
    assert r("ZINCRBY", "z", "-inf", "a") == "-ERR resulting score is not a number (NaN)"
    assert r("ZSCORE", "z", "a") == math.inf


def test_single_member_reads(r: Client) -> None:
    r("ZADD", "z", 1, "a", 2, "b", 3, "c")
    assert r("ZINCRBY", "z", 10, "a") == 11.0 and r("ZINCRBY", "z", "x", "a") == NOT_FLOAT
    assert r("ZMSCORE", "z", "a", "x", "b") == [11.0, None, 2.0]
    assert r("ZMSCORE", "none", "a") == [None]
    assert r("ZCARD", "z") == 3 and r("ZCARD", "none") == 0
    assert r("ZRANK", "z", "a") == 2 and r("ZREVRANK", "z", "a") == 0
    assert r("ZRANK", "z", "x") is None and r("ZRANK", "none", "a") is None
    assert r("ZREM", "z", "a", "x") == 1 and r("ZREM", "none", "a") == 0


def test_scores_reply_as_doubles_and_pairs() -> None:
    ks = Keyspace()
    ks.apply(args_of("ZADD", "z", 1.5, "a", 2, "b"), 1)
    assert ks.apply(args_of("ZSCORE", "z", "a"), 1) == Double(1.5)
    withscores = ks.apply(args_of("ZRANGE", "z", 0, -1, "WITHSCORES"), 1)
    assert isinstance(withscores, Pairs) and len(withscores.items) == 4
    assert not isinstance(ks.apply(args_of("ZPOPMIN", "z"), 1), Pairs)  # flat without count
    assert isinstance(ks.apply(args_of("ZPOPMIN", "z", 1), 1), Pairs)


def test_ranges(r: Client) -> None:
    r("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert r("ZRANGE", "z", 1, 2) == [b"b", b"c"]
    assert r("ZRANGE", "z", 0, 1, "REV", "WITHSCORES") == [b"e", 5.0, b"d", 4.0]
    assert r("ZRANGE", "z", "(1", 3, "BYSCORE") == [b"b", b"c"]
    assert r("ZRANGE", "z", "+inf", "(3", "BYSCORE", "REV") == [b"e", b"d"]
    assert r("ZRANGE", "z", "-inf", "+inf", "BYSCORE", "LIMIT", 1, 2) == [b"b", b"c"]
    assert r("ZRANGEBYSCORE", "z", 2, 4, "WITHSCORES", "LIMIT", 1, -1) == [b"c", 3.0, b"d", 4.0]
    assert r("ZREVRANGEBYSCORE", "z", 4, 2, "LIMIT", 0, 1) == [b"d"]
    assert r("ZRANGEBYSCORE", "z", "x", 2) == RANGE_NOT_FLOAT
    assert r("ZCOUNT", "z", "(1", "(5") == 3 and r("ZCOUNT", "z", 5, 1) == 0
    assert r("ZRANGE", "z", 0, 1, "LIMIT", 0, 1) == (
        "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    )
    assert r("ZRANGE", "none", 0, -1) == []


def test_lex_ranges(r: Client) -> None:
    r("ZADD", "z", 0, "a", 0, "b", 0, "c", 0, "d")
    assert r("ZRANGEBYLEX", "z", "[b", "(d") == [b"b", b"c"]
    assert r("ZRANGE", "z", "+", "(b", "BYLEX", "REV") == [b"d", b"c"]
    assert r("ZRANGEBYLEX", "z", "-", "+", "LIMIT", 1, 1) == [b"b"]
    assert r("ZLEXCOUNT", "z", "(a", "+") == 3
    assert r("ZRANGEBYLEX", "z", "b", "d") == "-ERR min or max not valid string range item"
    assert r("ZREMRANGEBYLEX", "z", "-", "[b") == 2 and r("ZRANGE", "z", 0, -1) == [b"c", b"d"]


def test_pops_and_removals(r: Client) -> None:
    r("ZADD", "z", 1, "a", 2, "b", 3, "c", 4, "d", 5, "e")
    assert r("ZPOPMIN", "z") == [b"a", 1.0] and r("ZPOPMAX", "z", 2) == [b"e", 5.0, b"d", 4.0]
    assert r("ZPOPMIN", "z", -1) == "-ERR value is out of range, must be positive"
    assert r("ZPOPMIN", "none") == []
    r("ZADD", "z", 6, "f", 7, "g")
    assert r("ZREMRANGEBYRANK", "z", 0, 0) == 1 and r("ZREMRANGEBYSCORE", "z", "(3", 6) == 1
    assert r("ZRANGE", "z", 0, -1) == [b"c", b"g"]
    assert r("ZREMRANGEBYRANK", "z", 0, -1) == 2 and r("EXISTS", "z") == 0


def test_zscan_returns_every_member_of_a_big_set(r: Client) -> None:
    members = [f"m{i}" for i in range(zsets.ZSCAN_WHOLE_MAX * 3)]
    for number, member in enumerate(members):
        r("ZADD", "z", number, member)
    seen: dict[bytes, float] = {}
    cursor = b"0"
    for _ in range(100_000):
        cursor, flat = r("ZSCAN", "z", cursor, "COUNT", 50)  # type: ignore[misc]
        seen.update(zip(flat[::2], map(float, flat[1::2]), strict=True))
        if cursor == b"0":
            break
    assert seen == {m.encode(): float(n) for n, m in enumerate(members)}
    small = Client()
    small("ZADD", "s", 1.5, "a", 2, "b")
    assert small("ZSCAN", "s", 0, "MATCH", "a*") == [b"0", [b"a", b"1.5"]]
    assert small("ZSCAN", "s", "x") == "-ERR invalid cursor"


def test_generic_commands_cover_sorted_sets(r: Client) -> None:
    r("ZADD", "z", 1, "a")
    r("RPUSH", "l", "a")
    assert r("TYPE", "z") == "+zset" and r("SCAN", 0, "TYPE", "zset") == [b"0", [b"z"]]
    assert r("ZADD", "l", 1, "a") == (
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    )
    assert r("RENAME", "z", "y") == "+OK" and r("ZSCORE", "y", "a") == 1.0
    assert r("EXPIRE", "y", 1) == 1
    r.now_ms += 1000
    assert r("ZCARD", "y") == 0 and r("ZADD", "y", 2, "b") == 1 and r("TTL", "y") == -1


def test_growth_past_the_element_bound_changes_nothing(
    r: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zsets, "COLLECTION_ELEMENTS_MAX", 2)
    full = "-ERR a collection holds at most 1000000 elements"
    assert r("ZADD", "z", 1, "a", 2, "b", 3, "c") == full and r("EXISTS", "z") == 0
    assert r("ZADD", "z", 1, "a", 2, "b") == 2
    assert r("ZADD", "z", 3, "c") == full and r("ZINCRBY", "z", 1, "c") == full
    assert r("ZADD", "z", 5, "a") == 0 and r("ZSCORE", "z", "a") == 5.0  # no growth: fine
