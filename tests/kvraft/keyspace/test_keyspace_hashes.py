"""The hash commands of the keyspace, one by one, with Redis's documented replies."""

from __future__ import annotations

from sentinel.kvraft.keyspace import Keyspace, Map
from tests.kvraft.keyspace.helpers import Client, args_of

WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value"


def test_hset_counts_new_fields_and_hget_reads_them() -> None:
    r = Client()
    assert r("HSET", "h", "f", "1", "g", "2") == 2
    assert r("HSET", "h", "f", "3", "k", "4") == 1
    assert r("HSET", "h", "f", "5", "f", "6") == 0  # the last value of a field wins
    assert r("HGET", "h", "f") == b"6"
    assert r("HGET", "h", "nope") is None
    assert r("HGET", "missing", "f") is None
    assert r("HSET", "h", "f") == "-ERR wrong number of arguments for 'hset' command"
    assert r("HMSET", "h", "a", "1", "b") == "-ERR wrong number of arguments for 'hmset' command"
    assert r("HMSET", "h", "a", "1") == "+OK"
    assert r("TYPE", "h") == "+hash"


def test_hsetnx_sets_only_a_new_field() -> None:
    r = Client()
    assert r("HSETNX", "h", "f", "1") == 1
    assert r("HSETNX", "h", "f", "2") == 0
    assert r("HGET", "h", "f") == b"1"


def test_hmget_hexists_hlen_hstrlen() -> None:
    r = Client()
    r("HSET", "h", "f", "hello", "g", "")
    assert r("HMGET", "h", "f", "nope", "g") == [b"hello", None, b""]
    assert r("HMGET", "missing", "a") == [None]
    assert (r("HEXISTS", "h", "f"), r("HEXISTS", "h", "x"), r("HEXISTS", "missing", "f")) == (
        1,
        0,
        0,
    )
    assert (r("HLEN", "h"), r("HLEN", "missing")) == (2, 0)
    assert (r("HSTRLEN", "h", "f"), r("HSTRLEN", "h", "x"), r("HSTRLEN", "missing", "f")) == (
        5,
        0,
        0,
    )


def test_hdel_removes_fields_and_the_empty_hash() -> None:
    r = Client()
    r("HSET", "h", "f", "1", "g", "2")
    assert r("HDEL", "h", "f", "f", "x") == 1
    assert r("HDEL", "missing", "f") == 0
    assert r("HDEL", "h", "g") == 1
    assert r("EXISTS", "h") == 0
    assert r("TYPE", "h") == "+none"


def test_hgetall_is_a_map_and_hkeys_hvals_keep_its_order() -> None:
    ks = Keyspace()
    ks.apply(args_of("HSET", "h", "f", "1", "g", "2"), 1000)
    reply = ks.apply(args_of("HGETALL", "h"), 1000)
    assert isinstance(reply, Map)
    pairs = [(k.data, v.data) for k, v in reply.pairs]  # type: ignore[union-attr]
    assert sorted(pairs) == [(b"f", b"1"), (b"g", b"2")]
    r = Client(ks)
    assert list(zip(r("HKEYS", "h"), r("HVALS", "h"), strict=True)) == pairs  # type: ignore[call-overload]
    assert ks.apply(args_of("HGETALL", "missing"), 1000) == Map(())
    assert (r("HKEYS", "missing"), r("HVALS", "missing")) == ([], [])


def test_hincrby_and_its_errors() -> None:
    r = Client()
    assert r("HINCRBY", "h", "n", "5") == 5
    assert r("HINCRBY", "h", "n", "-7") == -2
    assert r("HINCRBY", "h", "n", "x") == "-ERR value is not an integer or out of range"
    r("HSET", "h", "s", "abc", "big", "9223372036854775807")
    assert r("HINCRBY", "h", "s", "1") == "-ERR hash value is not an integer"
    assert r("HINCRBY", "h", "big", "1") == "-ERR increment or decrement would overflow"
    assert r("HGET", "h", "big") == b"9223372036854775807"


def test_hincrbyfloat_computes_in_long_double_as_redis() -> None:
    r = Client()
    assert r("HINCRBYFLOAT", "h", "f", "10.5") == b"10.5"
    assert r("HINCRBYFLOAT", "h", "f", "0.1") == b"10.6"
    assert r("HINCRBYFLOAT", "h", "f", "-5.0e3") == b"-4989.39999999999999991"  # as Redis 7.0
    assert r("HINCRBYFLOAT", "h", "f", "x") == "-ERR value is not a valid float"
    assert r("HINCRBYFLOAT", "h", "f", "inf") == "-ERR value is NaN or Infinity"
    r("HSET", "h", "s", "abc", "i", "inf")
    assert r("HINCRBYFLOAT", "h", "s", "1") == "-ERR hash value is not a float"
    assert r("HINCRBYFLOAT", "h", "i", "1") == "-ERR increment would produce NaN or Infinity"


def test_hrandfield_counts_and_values() -> None:
    r = Client()
    assert r("HRANDFIELD", "missing") is None
    assert r("HRANDFIELD", "missing", "3") == []
    r("HSET", "h", "a", "1", "b", "2", "c", "3")
    assert r("HRANDFIELD", "h") in (b"a", b"b", b"c")
    assert sorted(r("HRANDFIELD", "h", "5")) == [b"a", b"b", b"c"]  # type: ignore[type-var]
    two = r("HRANDFIELD", "h", "2")
    assert len(two) == 2 and len(set(two)) == 2  # type: ignore[arg-type]
    repeats = r("HRANDFIELD", "h", "-7")
    assert len(repeats) == 7 and set(repeats) <= {b"a", b"b", b"c"}  # type: ignore[arg-type]
    pairs = r("HRANDFIELD", "h", "-4", "WITHVALUES")
    assert len(pairs) == 8  # type: ignore[arg-type]
    for field, value in zip(pairs[::2], pairs[1::2], strict=True):  # type: ignore[index]
        assert r("HGET", "h", field) == value
    assert r("HRANDFIELD", "h", "0") == []
    assert r("HRANDFIELD", "h", "1", "VALUES") == "-ERR syntax error"
    assert r("HRANDFIELD", "h", "-2000000") == "-ERR value is out of range"


def test_hscan_returns_a_small_hash_whole_and_walks_a_large_one() -> None:
    r = Client()
    assert r("HSCAN", "missing", "0") == [b"0", []]
    r("HSET", "h", "a1", "x", "b1", "y")
    assert r("HSCAN", "h", "0") == [b"0", [b"a1", b"x", b"b1", b"y"]]
    assert r("HSCAN", "h", "0", "MATCH", "b*") == [b"0", [b"b1", b"y"]]
    assert r("HSCAN", "h", "x") == "-ERR invalid cursor"
    assert r("HSCAN", "h", "0", "COUNT", "0") == "-ERR syntax error"
    fields = [str(i) for i in range(1000)]
    r("HSET", "big", *[w for f in fields for w in (f, "v" + f)])
    seen: list[bytes] = []
    cursor = b"0"
    for _ in range(1000):  # a bound: the walk ends long before
        cursor, items = r("HSCAN", "big", cursor, "COUNT", "50")  # type: ignore[misc]
        seen.extend(items[::2])
        assert all(v == b"v" + f for f, v in zip(items[::2], items[1::2], strict=True))
        if cursor == b"0":
            break
    assert sorted(seen) == sorted(f.encode() for f in fields)


def test_a_hash_answers_wrongtype_to_other_types_commands() -> None:
    r = Client()
    r("HSET", "h", "f", "1")
    r("SET", "s", "v")
    for command in (
        ("GET", "h"),
        ("SADD", "h", "x"),
        ("HGET", "s", "f"),
        ("HSET", "s", "f", "1"),
        ("HGETALL", "s"),
        ("HRANDFIELD", "s"),
        ("HSCAN", "s", "0"),
        ("HINCRBY", "s", "f", "1"),
    ):
        assert r(*command) == WRONGTYPE, command
    assert r("SET", "h", "v") == "+OK"  # SET overwrites any type
    assert r("TYPE", "h") == "+string"
