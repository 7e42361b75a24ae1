"""The command table: every command issue #24 names is there, and the table's data gives
Redis's texts for unknown commands, unknown subcommands and wrong arity."""

from __future__ import annotations

import pytest

from sentinel.redis.commands import COMMANDS
from sentinel.redis.connection import check_command
from sentinel.redis.replies import encode

ISSUE_24 = """PING ECHO HELLO AUTH QUIT RESET SELECT CLIENT INFO DBSIZE FLUSHDB FLUSHALL TIME CONFIG
COMMAND DEL UNLINK EXISTS TYPE KEYS SCAN RENAME RENAMENX EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL
PTTL EXPIRETIME PERSIST GET SET SETNX SETEX PSETEX GETSET GETDEL GETEX MGET MSET MSETNX APPEND
STRLEN GETRANGE SETRANGE INCR INCRBY DECR DECRBY INCRBYFLOAT MULTI EXEC DISCARD WATCH UNWATCH"""

#: Issue #25's hashes and sets (HMSET too: deprecated in Redis, still widely sent).
ISSUE_25_HASHES_SETS = """HSET HMSET HSETNX HGET HMGET HDEL HEXISTS HLEN HGETALL HKEYS HVALS
HSTRLEN HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
SRANDMEMBER SMOVE SINTER SINTERCARD SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SSCAN"""


def refusal(*args: bytes) -> bytes:
    cmd, reply = check_command(list(args))
    assert cmd is None
    return encode(reply)


def test_every_command_of_the_issue_is_in_the_table() -> None:
    named = (ISSUE_24 + " " + ISSUE_25_HASHES_SETS).split()
    assert {w.lower() for w in named} == set(COMMANDS)
    assert set(COMMANDS["client"].subcommands) == {"id", "setname", "getname", "setinfo",
                                                    "list", "info"}  # fmt: skip


def test_every_row_is_consistent() -> None:
    for name, cmd in COMMANDS.items():
        assert cmd.name == name and cmd.arity != 0, name
        assert ("write" in cmd.flags) + ("readonly" in cmd.flags) <= 1, name
        if not cmd.local:
            assert ("write" in cmd.flags) != ("readonly" in cmd.flags), name  # the ordering
        assert cmd.first_key >= 0 and (cmd.first_key == 0) == (cmd.step == 0), name


def test_keys_come_from_first_last_step() -> None:
    assert COMMANDS["mset"].keys([b"mset", b"a", b"1", b"b", b"2"]) == [b"a", b"b"]
    assert COMMANDS["del"].keys([b"del", b"a", b"b"]) == [b"a", b"b"]
    assert COMMANDS["rename"].keys([b"rename", b"a", b"b"]) == [b"a", b"b"]
    assert COMMANDS["ping"].keys([b"ping"]) == []


def test_unknown_command_text_is_redis_exactly() -> None:
    assert refusal(b"FOO", b"a", b"b") == (
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n"
    )
    assert refusal(b"foo") == b"-ERR unknown command 'foo', with args beginning with: \r\n"
    long = refusal(b"x", b"a" * 200, b"b")
    assert long == b"-ERR unknown command 'x', with args beginning with: '" + b"a" * 128 + b"' \r\n"


@pytest.mark.parametrize(
    ("args", "text"),
    [
        ((b"GET",), b"-ERR wrong number of arguments for 'get' command\r\n"),
        ((b"get", b"a", b"b"), b"-ERR wrong number of arguments for 'get' command\r\n"),
        ((b"SET", b"k"), b"-ERR wrong number of arguments for 'set' command\r\n"),
        ((b"CONFIG",), b"-ERR wrong number of arguments for 'config' command\r\n"),
        ((b"CONFIG", b"GET"), b"-ERR wrong number of arguments for 'config|get' command\r\n"),
        ((b"client", b"nope"), b"-ERR unknown subcommand 'nope'. Try CLIENT HELP.\r\n"),
    ],
)
def test_arity_and_subcommand_texts(args: tuple[bytes, ...], text: bytes) -> None:
    assert refusal(*args) == text


def test_a_known_command_passes() -> None:
    cmd, reply = check_command([b"mSeT", b"a", b"1"])
    assert cmd is COMMANDS["mset"] and reply is None


def test_every_backend_row_matches_the_keyspace_table() -> None:
    """The front door's rows of backend commands agree with the keyspace's (which runs them):
    arity, write or read, and key positions."""
    from sentinel.kvraft.keyspace import COMMANDS as KEYSPACE

    for name, cmd in COMMANDS.items():
        if cmd.local:
            continue
        spec = KEYSPACE[name.upper().encode()]
        assert (spec.arity, spec.write) == (cmd.arity, cmd.is_write), name
        assert (spec.first_key, spec.last_key, spec.key_step) == (
            cmd.first_key,
            cmd.last_key,
            cmd.step,
        ), name
