"""The set commands of the keyspace, one by one, with Redis's documented replies."""

from __future__ import annotations

from tests.kvraft.keyspace.helpers import Client

WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value"


def members(r: Client, key: str) -> list[bytes]:
    return sorted(r("SMEMBERS", key))  # type: ignore[type-var, arg-type]


def test_sadd_srem_scard_smembers() -> None:
    r = Client()
    assert r("SADD", "s", "a", "b", "a") == 2
    assert r("SADD", "s", "b", "c") == 1
    assert members(r, "s") == [b"a", b"b", b"c"]
    assert (r("SCARD", "s"), r("SCARD", "missing")) == (3, 0)
    assert r("SREM", "s", "a", "x", "a") == 1
    assert r("SREM", "missing", "a") == 0
    assert r("SREM", "s", "b", "c") == 2
    assert (r("EXISTS", "s"), r("SMEMBERS", "s")) == (0, [])
    assert r("SADD", "s", "") == 1 and r("TYPE", "s") == "+set"


def test_sismember_and_smismember() -> None:
    r = Client()
    r("SADD", "s", "a", "b")
    assert (r("SISMEMBER", "s", "a"), r("SISMEMBER", "s", "z"), r("SISMEMBER", "no", "a")) == (
        1,
        0,
        0,
    )
    assert r("SMISMEMBER", "s", "a", "z", "b") == [1, 0, 1]
    assert r("SMISMEMBER", "missing", "a", "b") == [0, 0]


def test_spop_removes_what_it_returns() -> None:
    r = Client()
    assert (r("SPOP", "missing"), r("SPOP", "missing", "2")) == (None, [])
    r("SADD", "s", "a", "b", "c", "d")
    one = r("SPOP", "s")
    assert one in (b"a", b"b", b"c", b"d") and r("SISMEMBER", "s", one) == 0
    two = r("SPOP", "s", "2")
    assert len(two) == 2 and not set(two) & set(r("SMEMBERS", "s"))  # type: ignore[arg-type]
    assert r("SPOP", "s", "0") == []
    assert r("SPOP", "s", "-1") == "-ERR value is out of range, must be positive"
    assert r("SPOP", "s", "x") == "-ERR value is out of range, must be positive"
    assert r("SPOP", "s", "1", "2") == "-ERR syntax error"
    assert len(r("SPOP", "s", "10")) == 1  # type: ignore[arg-type]
    assert r("EXISTS", "s") == 0


def test_srandmember_counts() -> None:
    r = Client()
    assert (r("SRANDMEMBER", "missing"), r("SRANDMEMBER", "missing", "-2")) == (None, [])
    r("SADD", "s", "a", "b", "c")
    assert r("SRANDMEMBER", "s") in (b"a", b"b", b"c")
    assert sorted(r("SRANDMEMBER", "s", "10")) == [b"a", b"b", b"c"]  # type: ignore[type-var]
    two = r("SRANDMEMBER", "s", "2")
    assert len(set(two)) == 2  # type: ignore[arg-type]
    assert len(r("SRANDMEMBER", "s", "-9")) == 9  # type: ignore[arg-type]
    assert r("SCARD", "s") == 3
    assert r("SRANDMEMBER", "s", "x") == "-ERR value is not an integer or out of range"
    assert r("SRANDMEMBER", "s", "-9223372036854775808").startswith("-ERR value is out of range")  # type: ignore[union-attr]


def test_smove() -> None:
    r = Client()
    r("SADD", "src", "a", "b")
    r("SADD", "dst", "b")
    assert r("SMOVE", "src", "dst", "a") == 1
    assert (members(r, "src"), members(r, "dst")) == ([b"b"], [b"a", b"b"])
    assert r("SMOVE", "src", "dst", "b") == 1  # already there: only removed from src
    assert (r("EXISTS", "src"), members(r, "dst")) == (0, [b"a", b"b"])
    assert r("SMOVE", "src", "dst", "a") == 0
    assert r("SMOVE", "dst", "dst", "a") == 1 and r("SMOVE", "dst", "dst", "z") == 0
    assert r("SMOVE", "dst", "new", "z") == 0
    r("SET", "str", "v")
    assert r("SMOVE", "dst", "str", "a") == WRONGTYPE
    assert r("SMOVE", "missing", "str", "a") == 0  # Redis: a missing source first


def test_sinter_sunion_sdiff() -> None:
    r = Client()
    r("SADD", "a", "1", "2", "3", "4")
    r("SADD", "b", "2", "3", "5")
    r("SADD", "c", "3", "9")
    assert sorted(r("SINTER", "a", "b")) == [b"2", b"3"]  # type: ignore[type-var]
    assert r("SINTER", "a", "b", "c") == [b"3"]
    assert r("SINTER", "a", "missing") == []
    assert sorted(r("SUNION", "b", "c", "missing")) == [b"2", b"3", b"5", b"9"]  # type: ignore[type-var]
    assert sorted(r("SDIFF", "a", "b", "c")) == [b"1", b"4"]  # type: ignore[type-var]
    assert r("SDIFF", "missing", "a") == []
    r("SET", "str", "v")
    assert r("SINTER", "missing", "str") == WRONGTYPE  # every key's type is checked
    assert r("SUNION", "a", "str") == WRONGTYPE


def test_the_store_forms_replace_the_destination() -> None:
    r = Client()
    r("SADD", "a", "1", "2", "3")
    r("SADD", "b", "2", "3", "4")
    r("SET", "d", "string", "PX", "100000")
    assert r("SINTERSTORE", "d", "a", "b") == 2
    assert (members(r, "d"), r("PTTL", "d")) == ([b"2", b"3"], -1)
    assert r("SUNIONSTORE", "d", "a", "b") == 4
    assert r("SDIFFSTORE", "d", "a", "b") == 1 and members(r, "d") == [b"1"]
    assert r("SDIFFSTORE", "d", "a", "a") == 0
    assert r("EXISTS", "d") == 0
    assert r("SUNIONSTORE", "a", "a", "b") == 4  # the destination may be a source


def test_sintercard() -> None:
    r = Client()
    r("SADD", "a", "1", "2", "3")
    r("SADD", "b", "1", "2", "3", "4")
    assert r("SINTERCARD", "2", "a", "b") == 3
    assert r("SINTERCARD", "2", "a", "b", "LIMIT", "2") == 2
    assert r("SINTERCARD", "2", "a", "b", "LIMIT", "0") == 3
    assert r("SINTERCARD", "1", "missing") == 0
    assert r("SINTERCARD", "0", "a") == "-ERR numkeys should be greater than 0"
    assert r("SINTERCARD", "3", "a") == "-ERR Number of keys can't be greater than number of args"
    assert r("SINTERCARD", "1", "a", "LIMIT", "-1") == "-ERR LIMIT can't be negative"
    assert r("SINTERCARD", "1", "a", "LIMIT") == "-ERR syntax error"


def test_sscan_walks_every_member_once_or_more() -> None:
    r = Client()
    assert r("SSCAN", "missing", "0") == [b"0", []]
    r("SADD", "s", "a1", "b1")
    assert r("SSCAN", "s", "0", "MATCH", "a*") == [b"0", [b"a1"]]
    r("SADD", "big", *range(1000))
    seen: set[bytes] = set()
    cursor = b"0"
    for step in range(1000):  # a bound: the walk ends long before
        cursor, items = r("SSCAN", "big", cursor, "COUNT", "30")  # type: ignore[misc]
        seen.update(items)
        r("SADD", "big", f"new{step}")  # changes between calls do not hide old members
        if cursor == b"0":
            break
    assert {str(i).encode() for i in range(1000)} <= seen


def test_a_set_answers_wrongtype_to_other_types_commands() -> None:
    r = Client()
    r("SADD", "s", "a")
    r("HSET", "h", "f", "1")
    for command in (("GET", "s"), ("HGET", "s", "f"), ("SADD", "h", "x"), ("SPOP", "h"),
                    ("SMEMBERS", "h"), ("SRANDMEMBER", "h"), ("SSCAN", "h", "0"),
                    ("INCR", "s"), ("APPEND", "s", "x")):  # fmt: skip
        assert r(*command) == WRONGTYPE, command
    assert r("MGET", "s", "h") == [None, None]
