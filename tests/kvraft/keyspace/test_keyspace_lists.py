"""List commands of the keyspace: Redis's documented answers, the bounds, WRONGTYPE, and the
generic commands (TYPE, SCAN TYPE, RENAME, expiry, MULTI/EXEC, rollback) over lists."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings

from sentinel.kvraft.keyspace import Error, Keyspace, Reply, commands, listmoves, lists
from sentinel.kvraft.keyspace.commands import validate
from sentinel.kvraft.limits import ELEMENT_BYTES_MAX
from tests.kvraft.keyspace.helpers import Client, args_of, collection_commands

NOW = 1_000_000

WRONGTYPE = "-WRONGTYPE Operation against a key holding the wrong kind of value"


@pytest.fixture
def r() -> Client:
    return Client()


def test_pushes_and_pops_at_both_ends(r: Client) -> None:
    assert r("RPUSH", "l", "a", "b") == 2
    assert r("LPUSH", "l", "x", "y") == 4
    assert r("LRANGE", "l", 0, -1) == [b"y", b"x", b"a", b"b"]
    assert r("LPUSHX", "l", "0") == 5 and r("RPUSHX", "l", "z") == 6
    assert r("LPUSHX", "none", "a") == 0 and r("EXISTS", "none") == 0
    assert r("LPOP", "l") == b"0" and r("RPOP", "l") == b"z"
    assert r("LPOP", "l", 3) == [b"y", b"x", b"a"]
    assert r("RPOP", "l", 5) == [b"b"]
    assert r("EXISTS", "l") == 0  # the last pop deleted the key
    assert r("LPOP", "l") is None and r("LPOP", "l", 1) is None


def test_reads_by_index(r: Client) -> None:
    r("RPUSH", "l", *"abcdefg")
    assert r("LLEN", "l") == 7 and r("LLEN", "none") == 0
    assert r("LINDEX", "l", 0) == b"a" and r("LINDEX", "l", -1) == b"g"
    assert r("LINDEX", "l", 7) is None and r("LINDEX", "l", -8) is None
    assert r("LRANGE", "l", -100, 1) == [b"a", b"b"]
    assert r("LRANGE", "l", 5, 100) == [b"f", b"g"]  # walked from the back
    assert r("LRANGE", "l", 4, 3) == [] and r("LRANGE", "none", 0, -1) == []
    assert r("LINDEX", "l", "x") == "-ERR value is not an integer or out of range"


def test_window_walks_from_the_nearer_end() -> None:
    items = lists.ListValue(range(10))
    assert lists.window(items, 1, 3) == [1, 2]
    assert lists.window(items, 7, 10) == [7, 8, 9]
    assert lists.window(items, 5, 5) == []


def test_lset_lrem_ltrim_linsert(r: Client) -> None:
    r("RPUSH", "l", "a", "b", "a", "c", "a")
    assert r("LSET", "l", -1, "A") == "+OK"
    assert r("LSET", "l", 5, "x") == "-ERR index out of range"
    assert r("LSET", "none", 0, "x") == "-ERR no such key"
    assert r("LREM", "l", -1, "a") == 1 and r("LRANGE", "l", 0, -1) == [b"a", b"b", b"c", b"A"]
    assert r("LINSERT", "l", "BEFORE", "c", "x") == 5
    assert r("LINSERT", "l", "after", "A", "y") == 6
    assert r("LINSERT", "l", "AFTER", "missing", "y") == -1
    assert r("LINSERT", "none", "AFTER", "a", "y") == 0
    assert r("LTRIM", "l", 1, -2) == "+OK"
    assert r("LRANGE", "l", 0, -1) == [b"b", b"x", b"c", b"A"]
    assert r("LREM", "l", 0, "b") == 1
    assert r("LTRIM", "l", 3, 1) == "+OK" and r("EXISTS", "l") == 0


def test_lpos(r: Client) -> None:
    r("RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c")
    assert r("LPOS", "l", "c") == 2
    assert r("LPOS", "l", "c", "RANK", 2) == 6
    assert r("LPOS", "l", "c", "RANK", -1) == 7
    assert r("LPOS", "l", "c", "COUNT", 2) == [2, 6]
    assert r("LPOS", "l", "c", "COUNT", 0, "RANK", -1) == [7, 6, 2]
    assert r("LPOS", "l", "c", "COUNT", 0, "MAXLEN", 3) == [2]
    assert r("LPOS", "l", "x") is None and r("LPOS", "l", "x", "COUNT", 0) == []


def test_lmove_and_rpoplpush(r: Client) -> None:
    r("RPUSH", "a", "1", "2", "3")
    assert r("LMOVE", "a", "b", "LEFT", "RIGHT") == b"1"
    assert r("RPOPLPUSH", "a", "b") == b"3"
    assert r("LRANGE", "b", 0, -1) == [b"3", b"1"]
    assert r("LMOVE", "b", "b", "LEFT", "RIGHT") == b"3"  # a rotation
    assert r("LRANGE", "b", 0, -1) == [b"1", b"3"]
    assert r("LMOVE", "a", "b", "RIGHT", "LEFT") == b"2" and r("EXISTS", "a") == 0
    assert r("LMOVE", "a", "b", "LEFT", "LEFT") is None


def test_a_rotation_of_one_element_keeps_the_ttl(r: Client) -> None:
    r("RPUSH", "a", "1")
    r("PEXPIRE", "a", 5000)
    assert r("LMOVE", "a", "a", "LEFT", "RIGHT") == b"1"
    assert r("PTTL", "a") == 5000


def test_wrong_types_change_nothing(r: Client) -> None:
    r("SET", "s", "v")
    r("RPUSH", "l", "a")
    for command in [("LPUSH", "s", "x"), ("LPOP", "s"), ("LRANGE", "s", 0, 1), ("LLEN", "s"),
                    ("LMOVE", "l", "s", "LEFT", "LEFT"), ("LMOVE", "s", "l", "LEFT", "LEFT"),
                    ("GET", "l"), ("APPEND", "l", "x"), ("ZADD", "l", 1, "m")]:  # fmt: skip
        assert r(*command) == WRONGTYPE, command
    assert r("LRANGE", "l", 0, -1) == [b"a"] and r("GET", "s") == b"v"


def test_generic_commands_cover_lists(r: Client) -> None:
    r("RPUSH", "l", "a", "b")
    r("SET", "s", "v")
    assert r("TYPE", "l") == "+list"
    assert r("SCAN", 0, "TYPE", "list") == [b"0", [b"l"]]
    assert r("RENAME", "l", "m") == "+OK" and r("LRANGE", "m", 0, -1) == [b"a", b"b"]
    assert r("PEXPIRE", "m", 100) == 1
    r.now_ms += 100
    assert r("LLEN", "m") == 0 and r("RPUSH", "m", "new") == 1  # expired: a new list
    assert r("PTTL", "m") == -1


def test_blocking_commands_are_refused_before_the_log(r: Client) -> None:
    for name, poll in [("BLPOP", "LPOP"), ("BRPOP", "RPOP"), ("BRPOPLPUSH", "RPOPLPUSH"),
                       ("BLMOVE", "LMOVE"), ("BZPOPMIN", "ZPOPMIN")]:  # fmt: skip
        error = validate(args_of(name, "l", 0))
        assert error is not None and error.text.startswith(f"ERR {name} is not supported")
        assert poll in error.text
        assert r(name, "l", 0) == "-" + error.text
    assert listmoves.BLOCKING


def test_elements_over_the_byte_bound_are_refused_before_the_log() -> None:
    big = b"x" * (ELEMENT_BYTES_MAX + 1)
    error = validate([b"RPUSH", b"l", b"a", big])
    assert error is not None and error.text == (
        f"ERR element is {ELEMENT_BYTES_MAX + 1} bytes; the limit is {ELEMENT_BYTES_MAX} bytes"
    )
    assert validate([b"RPUSH", b"l", b"x" * ELEMENT_BYTES_MAX]) is None
    r = Client()
    assert r("RPUSH", "l", "a", big).startswith("-ERR element is")  # type: ignore[union-attr]
    assert r("EXISTS", "l") == 0


def test_growth_past_the_element_bound_changes_nothing(
    r: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lists, "COLLECTION_ELEMENTS_MAX", 3)
    monkeypatch.setattr(listmoves, "COLLECTION_ELEMENTS_MAX", 3)
    full = "-ERR a collection holds at most 1000000 elements"  # the real bound's text
    assert r("RPUSH", "l", "a", "b", "c", "d") == full and r("EXISTS", "l") == 0
    assert r("RPUSH", "l", "a", "b") == 2
    assert r("LPUSH", "l", "c", "d") == full
    assert r("RPUSH", "l", "c") == 3
    assert r("LINSERT", "l", "BEFORE", "a", "x") == full
    r("RPUSH", "src", "s")
    assert r("LMOVE", "src", "l", "LEFT", "LEFT") == full
    assert r("LRANGE", "l", 0, -1) == [b"a", b"b", b"c"] and r("LLEN", "src") == 1
    assert r("LMOVE", "l", "l", "LEFT", "RIGHT") == b"a"  # a rotation does not grow it


@pytest.mark.usefixtures("exploding_get")
@settings(max_examples=200)
@given(before=collection_commands(), inside=collection_commands())
def test_a_failed_transaction_rolls_collection_changes_back(
    before: list[list[bytes]], inside: list[list[bytes]]
) -> None:
    """List and sorted set changes are made in place; a transaction that raises half way
    must still leave every value, expiry and version as it was."""
    ks = Keyspace()
    for command in before:
        ks.apply(command, NOW)
    snapshot = ks.encode()
    watched = ks.versions([b"a", b"b", b"c"], NOW)
    replies = ks.apply_batch([*inside, [b"GET", b"a"]], NOW)
    assert replies is not None and all(isinstance(reply, Error) for reply in replies)
    assert ks.encode() == snapshot
    assert ks.versions([b"a", b"b", b"c"], NOW) == watched


def _explode(store: object, args: list[bytes], now_ms: int) -> Reply:
    raise RuntimeError("a planted bug")


@pytest.fixture
def exploding_get(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = dataclasses.replace(commands.COMMANDS[b"GET"], handler=_explode)
    monkeypatch.setitem(commands.COMMANDS, b"GET", spec)


def test_size_bytes_counts_the_elements_of_collections() -> None:
    """The compaction's decision (inline or in the background) reads this size."""
    ks = Keyspace()
    ks.apply(args_of("RPUSH", "l", "abc", "de"), NOW)
    ks.apply(args_of("ZADD", "z", 1, "mm"), NOW)
    ks.apply(args_of("SET", "s", "xyz"), NOW)
    assert ks.size_bytes() == (1 + 5) + (1 + 2 + 8) + (1 + 3)
