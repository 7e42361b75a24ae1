"""The key commands: deletion, types, KEYS, SCAN, RENAME, expiry and TTLs, FLUSH."""

from __future__ import annotations

import pytest

from sentinel.kvraft.keyspace import SCAN_BUCKETS, Keyspace
from tests.kvraft.keyspace.helpers import Client, args_of


@pytest.fixture
def r() -> Client:
    return Client()


def test_del_unlink_exists_type(r: Client) -> None:
    assert r("SET", "key1", "Hello") == "+OK"
    assert r("SET", "key2", "World") == "+OK"
    assert r("EXISTS", "key1") == 1
    assert r("EXISTS", "nosuchkey") == 0
    assert r("EXISTS", "key1", "key2", "nosuchkey", "key1") == 3
    assert r("TYPE", "key1") == "+string"
    assert r("TYPE", "nosuchkey") == "+none"
    assert r("DEL", "key1", "key2", "key3", "key1") == 2
    assert r("SET", "k", "v") == "+OK"
    assert r("UNLINK", "k") == 1
    assert r("DBSIZE") == 0


def test_keys_matches_in_byte_order(r: Client) -> None:
    assert r("MSET", "firstname", "Jack", "lastname", "Stuntman", "age", "35") == "+OK"
    assert r("KEYS", "*name*") == [b"firstname", b"lastname"]
    assert r("KEYS", "a??") == [b"age"]
    assert r("KEYS", "*") == [b"age", b"firstname", b"lastname"]


def scan_all(r: Client, *options: str) -> list[bytes]:
    cursor, seen, calls = b"0", [], 0
    while True:
        cursor, keys = r("SCAN", cursor, *options)  # type: ignore[misc]
        seen.extend(keys)
        calls += 1
        assert calls <= SCAN_BUCKETS + 1
        if cursor == b"0":
            return seen


def test_scan_returns_every_key_once_with_filters(r: Client) -> None:
    names = [f"key:{i}".encode() for i in range(500)]
    for name in names:
        r("SET", name, "v")
    r("SET", "other", "v")
    r("SET", "gone", "v", "PX", "1")
    r.now_ms += 1  # "gone" is now expired: SCAN skips it
    assert sorted(scan_all(r)) == sorted([*names, b"other"])
    assert sorted(scan_all(r, "MATCH", "key:1*", "COUNT", "7")) == sorted(
        n for n in names if n.startswith(b"key:1")
    )
    assert sorted(scan_all(r, "TYPE", "string", "COUNT", "1000")) == sorted([*names, b"other"])
    assert scan_all(r, "TYPE", "hash") == []
    assert r("SCAN", "0", "COUNT", "100000")[0] == b"0"


def test_scan_of_a_small_keyspace_answers_in_one_call(r: Client) -> None:
    r("MSET", "a", "1", "b", "2", "c", "3")
    cursor, keys = r("SCAN", "0")  # type: ignore[misc]
    assert cursor == b"0"
    assert sorted(keys) == [b"a", b"b", b"c"]


def test_scan_keeps_its_promise_while_keys_change(r: Client) -> None:
    """A key present for the whole iteration is returned; the cursor stays valid."""
    stable = [f"s{i}".encode() for i in range(200)]
    for key in stable:
        r("SET", key, "v")
    cursor, seen, step = b"0", set(), 0
    while True:
        cursor, keys = r("SCAN", cursor, "COUNT", "5")  # type: ignore[misc]
        seen.update(keys)
        step += 1
        r("SET", f"new{step}", "v")
        r("DEL", f"new{step - 1}")
        if cursor == b"0":
            break
    assert set(stable) <= seen


def test_scan_errors(r: Client) -> None:
    assert r("SCAN", "abc") == "-ERR invalid cursor"
    assert r("SCAN", "-1") == "-ERR invalid cursor"
    assert r("SCAN", "0", "COUNT", "0") == "-ERR syntax error"
    assert r("SCAN", "0", "COUNT", "x") == "-ERR value is not an integer or out of range"
    assert r("SCAN", "0", "MATCH") == "-ERR syntax error"
    assert r("SCAN", "0", "BOGUS", "1") == "-ERR syntax error"
    assert r("SCAN", "0", "TYPE", "nosuch") == "-ERR unknown type name 'nosuch'"


def test_rename_and_renamenx(r: Client) -> None:
    assert r("SET", "mykey", "Hello", "EX", "100") == "+OK"
    assert r("RENAME", "mykey", "myotherkey") == "+OK"
    assert r("GET", "myotherkey") == b"Hello"
    assert r("TTL", "myotherkey") == 100  # the expiry moves with the value
    assert r("EXISTS", "mykey") == 0
    assert r("RENAME", "nokey", "x") == "-ERR no such key"
    assert r("RENAMENX", "nokey", "x") == "-ERR no such key"
    assert r("RENAME", "myotherkey", "myotherkey") == "+OK"
    assert r("SET", "a", "1") == "+OK"
    assert r("RENAMENX", "a", "myotherkey") == 0
    assert r("RENAMENX", "a", "b") == 1
    assert r("RENAMENX", "b", "b") == 0
    assert r("RENAME", "b", "myotherkey") == "+OK"
    assert r("GET", "myotherkey") == b"1"
    assert r("TTL", "myotherkey") == -1


def test_expire_ttl_persist(r: Client) -> None:
    assert r("SET", "mykey", "Hello") == "+OK"
    assert r("EXPIRE", "mykey", "10") == 1
    assert r("TTL", "mykey") == 10
    assert r("SET", "mykey", "Hello World") == "+OK"
    assert r("TTL", "mykey") == -1
    assert r("EXPIRE", "mykey", "10", "XX") == 0
    assert r("TTL", "mykey") == -1
    assert r("EXPIRE", "mykey", "10", "NX") == 1
    assert r("TTL", "mykey") == 10
    assert r("EXPIRE", "mykey", "5", "GT") == 0
    assert r("EXPIRE", "mykey", "20", "GT") == 1
    assert r("EXPIRE", "mykey", "30", "LT") == 0
    assert r("EXPIRE", "mykey", "15", "LT") == 1
    assert r("PTTL", "mykey") == 15_000
    assert r("PERSIST", "mykey") == 1
    assert r("PERSIST", "mykey") == 0
    assert r("EXPIRE", "mykey", "20", "GT") == 0  # no expiry counts as infinite
    assert r("EXPIRE", "mykey", "20", "LT") == 1
    assert r("TTL", "nokey") == -2
    assert r("EXPIRE", "nokey", "10") == 0
    assert r("PERSIST", "nokey") == 0


def test_expire_variants_and_times(r: Client) -> None:
    now = r.now_ms
    r("SET", "k", "v")
    assert r("PEXPIRE", "k", "1500") == 1
    assert r("TTL", "k") == 2  # rounded to the nearest second, as Redis does
    assert r("PTTL", "k") == 1500
    assert r("EXPIREAT", "k", str(now // 1000 + 50)) == 1
    assert r("EXPIRETIME", "k") == now // 1000 + 50
    assert r("PEXPIREAT", "k", str(now + 777)) == 1
    assert r("PEXPIRETIME", "k") == now + 777
    assert r("EXPIRETIME", "nokey") == -2
    r("SET", "p", "v")
    assert r("EXPIRETIME", "p") == -1
    assert r("EXPIRE", "p", "-1") == 1  # a time in the past deletes
    assert r("EXISTS", "p") == 0
    assert r("DBSIZE") == 1


def test_expire_errors(r: Client) -> None:
    r("SET", "k", "v")
    nx_error = "-ERR NX and XX, GT or LT options at the same time are not compatible"
    assert r("EXPIRE", "k", "10", "NX", "XX") == nx_error
    assert r("EXPIRE", "k", "10", "NX", "GT") == nx_error
    assert r("EXPIRE", "k", "10", "GT", "LT") == (
        "-ERR GT and LT options at the same time are not compatible"
    )
    assert r("EXPIRE", "k", "10", "YY") == "-ERR Unsupported option YY"
    assert r("EXPIRE", "k", "ten") == "-ERR value is not an integer or out of range"
    assert r("EXPIRE", "k", str(2**62)) == "-ERR invalid expire time in 'expire' command"
    assert r("PEXPIRE", "k", str(2**63 - 1)) == "-ERR invalid expire time in 'pexpire' command"
    assert r("TTL", "k") == -1


def test_expired_keys_read_as_absent_until_purged_then_are_gone(r: Client) -> None:
    r("SET", "a", "1", "PX", "100")
    r("SET", "b", "2", "PX", "50")
    r("SET", "c", "3", "PX", "100")
    r("SET", "keep", "4")
    assert r.ks.expired_keys(r.now_ms + 49, 10) == []
    r.now_ms += 100
    assert r("GET", "a") is None
    assert r("EXISTS", "a", "b", "c") == 0
    assert r("TTL", "b") == -2
    assert r("KEYS", "*") == [b"keep"]
    assert r("DBSIZE") == 4  # Redis counts expired keys that are not deleted yet
    assert r.ks.expired_keys(r.now_ms, 2) == [b"b", b"a"]  # by (expiry, key)
    assert r.ks.expired_keys(r.now_ms, 10) == [b"b", b"a", b"c"]
    r("SET", "a", "new")  # set again after the leader listed it: it must stay
    assert r.ks.purge_expired([b"b", b"a", b"c", b"keep", b"nokey"], r.now_ms) == 2
    assert r("GET", "a") == b"new"
    assert r("DBSIZE") == 2
    assert r.ks.expired_keys(r.now_ms, 10) == []


def test_log_time_never_goes_back(r: Client) -> None:
    r("SET", "k", "v", "PX", "10")
    r.now_ms += 10
    r("SET", "other", "v")  # a write at the later time
    r.now_ms -= 5  # a lagging clock cannot bring the key back
    assert r("GET", "k") is None


def test_flush(r: Client) -> None:
    r("MSET", "a", "1", "b", "2")
    assert r("FLUSHDB") == "+OK"
    assert r("DBSIZE") == 0
    r("SET", "a", "1", "EX", "10")
    assert r("FLUSHALL", "ASYNC") == "+OK"
    assert r("KEYS", "*") == []
    assert r.ks.expired_keys(r.now_ms + 20_000, 10) == []
    assert r("FLUSHALL", "BOGUS") == "-ERR syntax error"


def test_unknown_commands_and_arity() -> None:
    ks = Keyspace()
    assert ks.apply(args_of("NOPE", "a", "b"), 0).text == (  # type: ignore[union-attr]
        "ERR unknown command 'NOPE', with args beginning with: 'a' 'b' "
    )
    assert ks.apply(args_of("GET"), 0).text == (  # type: ignore[union-attr]
        "ERR wrong number of arguments for 'get' command"
    )
    assert ks.apply([], 0).text.startswith("ERR unknown command")  # type: ignore[union-attr]
