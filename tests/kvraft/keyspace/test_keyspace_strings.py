"""The string commands against Redis's documented examples and error texts."""

from __future__ import annotations

import pytest

from tests.kvraft.keyspace.helpers import Client

WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INT = "-ERR value is not an integer or out of range"
SYNTAX = "-ERR syntax error"
TOO_BIG = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)"


@pytest.fixture
def r() -> Client:
    return Client()


def test_get_set_and_the_set_options(r: Client) -> None:
    assert r("GET", "nonexisting") is None
    assert r("SET", "mykey", "Hello") == "+OK"
    assert r("GET", "mykey") == b"Hello"
    assert r("SET", "mykey", "World", "NX") is None
    assert r("SET", "mykey", "World", "XX") == "+OK"
    assert r("SET", "other", "x", "XX") is None
    assert r("SET", "mykey", "v2", "GET") == b"World"
    assert r("SET", "fresh", "v", "GET") is None
    assert r("GET", "fresh") == b"v"
    assert r("SET", "mykey", "v3", "NX", "GET") == b"v2"  # not set, old value answered
    assert r("GET", "mykey") == b"v2"


@pytest.mark.parametrize(
    "options",
    [["NX", "XX"], ["EX", "10", "PX", "10"], ["KEEPTTL", "EX", "10"], ["EX"], ["BOGUS"]],
)
def test_set_refuses_conflicting_options(r: Client, options: list[str]) -> None:
    assert r("SET", "k", "v", *options) == SYNTAX
    assert r("GET", "k") is None


def test_set_expiry_options(r: Client) -> None:
    now = r.now_ms
    assert r("SET", "a", "1", "EX", "10") == "+OK"
    assert r("PTTL", "a") == 10_000
    assert r("SET", "b", "1", "PX", "1500") == "+OK"
    assert r("PTTL", "b") == 1500
    assert r("SET", "c", "1", "EXAT", str(now // 1000 + 100)) == "+OK"
    assert r("PEXPIRETIME", "c") == (now // 1000 + 100) * 1000
    assert r("SET", "d", "1", "PXAT", str(now + 5)) == "+OK"
    assert r("PTTL", "d") == 5
    assert r("SET", "b", "2", "KEEPTTL") == "+OK"
    assert r("PTTL", "b") == 1500
    assert r("SET", "b", "3") == "+OK"
    assert r("TTL", "b") == -1
    for bad in ("0", "-5"):
        assert r("SET", "e", "1", "EX", bad) == "-ERR invalid expire time in 'set' command"
    assert r("SET", "e", "1", "EX", str(2**62)) == "-ERR invalid expire time in 'set' command"
    assert r("SET", "e", "1", "PX", "abc") == NOT_INT
    assert r("EXISTS", "e") == 0


def test_a_key_set_with_a_past_absolute_time_reads_as_absent(r: Client) -> None:
    assert r("SET", "k", "v", "PXAT", "1") == "+OK"
    assert r("GET", "k") is None
    assert r("EXISTS", "k") == 0


def test_setnx_setex_psetex_getset(r: Client) -> None:
    assert r("SETNX", "mykey", "Hello") == 1
    assert r("SETNX", "mykey", "World") == 0
    assert r("GET", "mykey") == b"Hello"
    assert r("SETEX", "mykey", "10", "Hello") == "+OK"
    assert r("TTL", "mykey") == 10
    assert r("PSETEX", "mykey", "1000", "Hello") == "+OK"
    assert r("PTTL", "mykey") == 1000
    assert r("SETEX", "k", "0", "v") == "-ERR invalid expire time in 'setex' command"
    assert r("PSETEX", "k", "-1", "v") == "-ERR invalid expire time in 'psetex' command"
    assert r("INCR", "mycounter") == 1
    assert r("GETSET", "mycounter", "0") == b"1"
    assert r("GET", "mycounter") == b"0"
    assert r("GETSET", "newkey", "x") is None
    assert r("GETSET", "mykey", "y") == b"Hello"
    assert r("TTL", "mykey") == -1  # GETSET drops the expiry, as SET does


def test_getdel_and_getex(r: Client) -> None:
    assert r("SET", "mykey", "Hello") == "+OK"
    assert r("GETDEL", "mykey") == b"Hello"
    assert r("GET", "mykey") is None
    assert r("GETDEL", "mykey") is None
    assert r("SET", "mykey", "Hello") == "+OK"
    assert r("GETEX", "mykey") == b"Hello"
    assert r("TTL", "mykey") == -1
    assert r("GETEX", "mykey", "EX", "60") == b"Hello"
    assert r("TTL", "mykey") == 60
    assert r("GETEX", "mykey", "PERSIST") == b"Hello"
    assert r("TTL", "mykey") == -1
    assert r("GETEX", "mykey", "EX", "0") == "-ERR invalid expire time in 'getex' command"
    assert r("GETEX", "mykey", "EX", "1", "PERSIST") == SYNTAX
    assert r("GETEX", "mykey", "KEEPTTL") == SYNTAX
    assert r("GETEX", "mykey", "PXAT", "1") == b"Hello"  # a time already past deletes it
    assert r("EXISTS", "mykey") == 0
    assert r("GETEX", "missing", "EX", "0") is None  # the key is looked up first


def test_mget_mset_msetnx(r: Client) -> None:
    assert r("MSET", "key1", "Hello", "key2", "World") == "+OK"
    assert r("MGET", "key1", "key2", "nonexisting") == [b"Hello", b"World", None]
    assert r("MSET", "key1", "a", "key2") == "-ERR wrong number of arguments for 'mset' command"
    assert r("MSETNX", "key3", "x", "key4", "y") == 1
    assert r("MSETNX", "key4", "z", "key5", "w") == 0
    assert r("MGET", "key4", "key5") == [b"y", None]


def test_append_strlen_getrange_setrange(r: Client) -> None:
    assert r("EXISTS", "mykey") == 0
    assert r("APPEND", "mykey", "Hello") == 5
    assert r("APPEND", "mykey", " World") == 11
    assert r("GET", "mykey") == b"Hello World"
    assert r("STRLEN", "mykey") == 11
    assert r("STRLEN", "nonexisting") == 0
    assert r("SET", "mykey", "This is a string") == "+OK"
    assert r("GETRANGE", "mykey", "0", "3") == b"This"
    assert r("GETRANGE", "mykey", "-3", "-1") == b"ing"
    assert r("GETRANGE", "mykey", "0", "-1") == b"This is a string"
    assert r("GETRANGE", "mykey", "10", "100") == b"string"
    assert r("GETRANGE", "mykey", "-1", "-5") == b""
    assert r("GETRANGE", "missing", "0", "-1") == b""
    assert r("GETRANGE", "mykey", "x", "1") == NOT_INT
    assert r("SET", "key1", "Hello World") == "+OK"
    assert r("SETRANGE", "key1", "6", "Redis") == 11
    assert r("GET", "key1") == b"Hello Redis"
    assert r("SETRANGE", "key2", "6", "Redis") == 11
    assert r("GET", "key2") == b"\x00" * 6 + b"Redis"
    assert r("SETRANGE", "key3", "5", "") == 0
    assert r("EXISTS", "key3") == 0
    assert r("SETRANGE", "key1", "-1", "x") == "-ERR offset is out of range"


def test_values_never_grow_past_the_limit(r: Client) -> None:
    from sentinel.kvraft.keyspace import VALUE_BYTES_MAX

    assert r("SET", "big", b"x" * VALUE_BYTES_MAX) == "+OK"
    assert r("APPEND", "big", "y") == TOO_BIG
    assert r("SETRANGE", "big", str(VALUE_BYTES_MAX), "y") == TOO_BIG
    assert r("SETRANGE", "new", str(VALUE_BYTES_MAX), "y") == TOO_BIG
    assert r("STRLEN", "big") == VALUE_BYTES_MAX
    assert r("EXISTS", "new") == 0


def test_incr_family(r: Client) -> None:
    assert r("SET", "mykey", "10") == "+OK"
    assert r("INCR", "mykey") == 11
    assert r("GET", "mykey") == b"11"
    assert r("DECR", "mykey") == 10
    assert r("INCRBY", "mykey", "5") == 15
    assert r("DECRBY", "mykey", "3") == 12
    assert r("DECR", "fresh") == -1
    assert r("SET", "mykey", "234293482390480948029348230948") == "+OK"
    assert r("INCR", "mykey") == NOT_INT
    for bad in ("", " 1", "1 ", "+1", "01", "1.5", "-0"):
        assert r("SET", "b", bad) == "+OK"
        assert r("INCR", "b") == NOT_INT
    assert r("INCRBY", "mykey", "x") == NOT_INT
    assert r("SET", "max", str(2**63 - 1)) == "+OK"
    assert r("INCR", "max") == "-ERR increment or decrement would overflow"
    assert r("SET", "min", str(-(2**63))) == "+OK"
    assert r("DECR", "min") == "-ERR increment or decrement would overflow"
    assert r("DECRBY", "x", str(-(2**63))) == "-ERR decrement would overflow"
    assert r("GET", "max") == str(2**63 - 1).encode()


@pytest.mark.parametrize(
    ("start", "step", "result"),
    [
        ("10.50", "0.1", b"10.6"),
        ("10.6", "-5", b"5.6"),
        ("5.0e3", "2.0e2", b"5200"),
        ("3", "1.5", b"4.5"),
        ("0", "0.1", b"0.1"),
        ("1", "-1", b"0"),
        ("-1.5", "0.5", b"-1"),
        ("17179869184", "1.5", b"17179869185.5"),
        ("0x10", "1", b"17"),
        ("1", "1e-20", b"1"),
        ("1e19", "1", b"10000000000000000001"),  # exact in long double, not in double
        ("1e20", "1", b"100000000000000000000"),  # a 64-bit significand's step there is 8
    ],
)
def test_incrbyfloat_prints_as_redis(r: Client, start: str, step: str, result: bytes) -> None:
    assert r("SET", "k", start) == "+OK"
    assert r("INCRBYFLOAT", "k", step) == result
    assert r("GET", "k") == result


def test_incrbyfloat_errors(r: Client) -> None:
    assert r("INCRBYFLOAT", "new", "2.5") == b"2.5"
    for bad in ("abc", "", " 1", "1 ", "nan", "1e5000", "1e-5000"):
        assert r("INCRBYFLOAT", "new", bad) == "-ERR value is not a valid float"
    assert r("INCRBYFLOAT", "new", "inf") == "-ERR increment would produce NaN or Infinity"
    assert r("SET", "huge", "1e4931") == "+OK"
    reply = r("INCRBYFLOAT", "huge", "1.1e4932")
    assert reply == "-ERR increment would produce NaN or Infinity"
    assert r("GET", "new") == b"2.5"


def test_wrongtype_is_answered_by_every_string_command() -> None:
    """No other type exists yet, so a value of a stand-in class plays one."""
    from sentinel.kvraft.keyspace.values import VALUE_TYPES, TypeTag

    class FakeList(bytes):
        pass

    VALUE_TYPES[FakeList] = TypeTag.LIST
    try:
        r = Client()
        r.ks._store.put(b"lst", FakeList(b"x"), None)
        assert r("TYPE", "lst") == "+list"
        for command in (
            ["GET", "lst"],
            ["GETSET", "lst", "v"],
            ["GETDEL", "lst"],
            ["GETEX", "lst"],
            ["APPEND", "lst", "v"],
            ["STRLEN", "lst"],
            ["GETRANGE", "lst", "0", "1"],
            ["SETRANGE", "lst", "0", "v"],
            ["INCR", "lst"],
            ["INCRBYFLOAT", "lst", "1"],
            ["SET", "lst", "v", "GET"],
        ):
            assert r(*command) == WRONGTYPE, command
        assert r("MGET", "lst") == [None]
        assert r("SET", "lst", "v") == "+OK"  # SET replaces any type
        assert r("TYPE", "lst") == "+string"
    finally:
        del VALUE_TYPES[FakeList]


def test_binary_keys_and_values(r: Client) -> None:
    key, value = b"k\r\n\x00\xff", b"\x00\r\nv\xfe"
    assert r("SET", key, value) == "+OK"
    assert r("GET", key) == value
    assert r("KEYS", "*") == [key]
    assert r("SET", b"", b"empty key") == "+OK"
    assert r("GET", b"") == b"empty key"
