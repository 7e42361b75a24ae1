"""The hash and set commands against a real redis-server: the same command sequences go
to the keyspace and to Redis, and every reply must be the same (RESP2 as Redis writes it;
element order canonical where Redis leaves it open; random picks compared by their shape).

Needs `redis-server` (Debian's redis-server package). It runs on a free port with no
persistence and is stopped at the end. Redis 7.0's texts are the reference.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings

from sentinel.kvraft.keyspace import Keyspace
from tests.kvraft.keyspace.hashset_helpers import (
    RANDOM,
    collection_commands,
    comparable,
    flat,
)

READY_TIMEOUT_S = 20.0
REPLY_TIMEOUT_S = 10.0
NOW = 1_000_000

pytestmark = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)


class Resp2:
    """A minimal RESP2 client: send a command, read one reply as plain values."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=REPLY_TIMEOUT_S)
        self.file = self.sock.makefile("rb")

    def close(self) -> None:
        self.file.close()
        self.sock.close()

    def __call__(self, args: list[bytes]) -> object:
        out = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%b\r\n" % (len(a), a) for a in args)
        self.sock.sendall(out)
        return self._read()

    def _read(self) -> object:
        line = self.file.readline()
        assert line.endswith(b"\r\n"), f"connection closed: {line!r}"
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return "+" + rest.decode()
        if kind == b"-":
            return "-" + rest.decode()
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.file.read(size + 2)[:-2]
        if kind == b"*":
            size = int(rest)
            return None if size < 0 else [self._read() for _ in range(size)]
        raise AssertionError(f"unexpected reply line {line!r}")


@pytest.fixture(scope="module")
def redis() -> Iterator[Resp2]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    argv = ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
            "--bind", "127.0.0.1"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"redis-server ended with {proc.returncode}"
            try:
                client = Resp2(port)
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not listen in time"
                time.sleep(0.05)
        yield client
        client.close()
    finally:
        proc.terminate()
        proc.wait(30)


def same_shape(command: list[bytes], mine: object, theirs: object) -> None:
    """A random pick: the same kind of reply, and as many elements for a count."""
    if isinstance(theirs, list):
        assert isinstance(mine, list) and len(mine) == len(theirs), (command, mine, theirs)
    elif isinstance(theirs, str) or theirs is None or isinstance(theirs, int):
        assert mine == theirs, (command, mine, theirs)
    else:
        assert isinstance(mine, bytes), (command, mine, theirs)


def run_both(redis: Resp2, commands: list[list[bytes]]) -> None:
    """Run `commands` on a fresh keyspace and a flushed Redis; compare every reply."""
    assert redis([b"FLUSHALL"]) == "+OK"
    ks = Keyspace()
    for command in commands:
        mine = flat(ks.apply(command, NOW, 7))
        theirs = redis(command)
        if command[0].upper() in RANDOM:
            same_shape(command, mine, theirs)
            if command[0].upper() == b"SPOP" and redis([b"TYPE", command[1]]) == "+set":
                _copy_set(ks, redis, command[1])  # the sets differ now: make them equal again
            continue
        assert comparable(command, mine) == comparable(command, theirs), command


def _copy_set(ks: Keyspace, redis: Resp2, key: bytes) -> None:
    members = redis([b"SMEMBERS", key])
    ks.apply([b"DEL", key], NOW)
    if members:
        ks.apply([b"SADD", key, *members], NOW)  # type: ignore[misc]


EDGE_CASES = [
    [b"HSET", b"h", b"f"],
    [b"HSET", b"h", b"f", b"1", b"g"],
    [b"HMSET", b"h", b"f", b"1", b"f", b"2"],
    [b"HGET", b"h", b"f"],
    [b"HINCRBY", b"h", b"f", b"x"],
    [b"HINCRBY", b"h", b"f", b"9223372036854775807"],
    [b"HSET", b"h", b"n", b"abc", b"fl", b"1.5", b"big", b"9223372036854775807"],
    [b"HINCRBY", b"h", b"n", b"1"],
    [b"HINCRBY", b"h", b"fl", b"1"],
    [b"HINCRBY", b"h", b"big", b"1"],
    [b"HINCRBYFLOAT", b"h", b"fl", b"0.1"],
    [b"HINCRBYFLOAT", b"h", b"n", b"1"],
    [b"HINCRBYFLOAT", b"h", b"fl", b"inf"],
    [b"HINCRBYFLOAT", b"h", b"fl", b"x"],
    [b"HINCRBYFLOAT", b"h", b"new", b"10.5"],
    [b"HSET", b"h", b"inf", b"inf"],
    [b"HINCRBYFLOAT", b"h", b"inf", b"1"],
    [b"HSTRLEN", b"h", b"n"],
    [b"HRANDFIELD", b"h", b"1", b"WITHVALUES", b"x"],
    [b"HRANDFIELD", b"h", b"1", b"NOPE"],
    [b"HRANDFIELD", b"h", b"x"],
    [b"HRANDFIELD", b"missing", b"3"],
    [b"HRANDFIELD", b"missing"],
    [b"HSCAN", b"h", b"x"],
    [b"HSCAN", b"h", b"0", b"COUNT"],
    [b"HSCAN", b"h", b"0", b"COUNT", b"0"],
    [b"HSCAN", b"h", b"0", b"COUNT", b"x"],
    [b"HSCAN", b"h", b"0", b"FOO", b"x"],
    [b"HSCAN", b"missing", b"0"],
    [b"HGETALL", b"missing"],
    [b"SADD", b"s", b"a", b"a", b"b"],
    [b"SPOP", b"s", b"-1"],
    [b"SPOP", b"s", b"x"],
    [b"SPOP", b"s", b"1", b"2"],
    [b"SPOP", b"missing", b"2"],
    [b"SPOP", b"missing"],
    [b"SRANDMEMBER", b"s", b"1", b"2"],
    [b"SRANDMEMBER", b"s", b"x"],
    [b"SRANDMEMBER", b"missing", b"-3"],
    [b"SINTERCARD", b"0", b"s"],
    [b"SINTERCARD", b"x", b"s"],
    [b"SINTERCARD", b"3", b"s"],
    [b"SINTERCARD", b"1", b"s", b"LIMIT"],
    [b"SINTERCARD", b"1", b"s", b"LIMIT", b"-1"],
    [b"SINTERCARD", b"1", b"s", b"LIMIT", b"x"],
    [b"SINTERCARD", b"1", b"s", b"FOO", b"1"],
    [b"SINTERCARD", b"1", b"s", b"LIMIT", b"1"],
    [b"SINTERCARD", b"2", b"s", b"h"],
    [b"SINTER", b"missing", b"h"],
    [b"SUNION", b"s", b"h"],
    [b"SDIFF", b"missing", b"h"],
    [b"SINTERSTORE", b"h", b"s", b"missing"],
    [b"TYPE", b"h"],
    [b"SMOVE", b"s", b"s", b"a"],
    [b"SMOVE", b"s", b"s", b"zz"],
    [b"SET", b"str", b"v"],
    [b"SMOVE", b"s", b"str", b"a"],
    [b"SMOVE", b"str", b"s", b"a"],
    [b"SMOVE", b"missing", b"str", b"a"],
    [b"SADD", b"str", b"a"],
    [b"HGET", b"str", b"a"],
    [b"SMISMEMBER", b"missing", b"a", b"b"],
    [b"SSCAN", b"s", b"0", b"MATCH", b"a*"],
    [b"SUNIONSTORE", b"dest", b"s", b"s"],
    [b"SDIFFSTORE", b"dest", b"s", b"s"],
    [b"EXISTS", b"dest"],
]


def test_edge_cases_answer_as_redis_does(redis: Resp2) -> None:
    run_both(redis, EDGE_CASES)


@settings(max_examples=150, deadline=None)
@given(commands=collection_commands())
def test_random_sequences_answer_as_redis_does(redis: Resp2, commands: list[list[bytes]]) -> None:
    run_both(redis, commands)
