"""Real Redis clients against the front door with the fake backend: redis-py (RESP2 and
RESP3), redis-cli and redis-benchmark (Debian's redis-tools; skipped when not installed)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import redis

TOOL_DEADLINE_S = 60.0


def tool(name: str) -> str:
    """The path of a redis-tools binary, or skip the test naming what is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install redis-tools)")
    return path


def run(*argv: str) -> str:
    """Run a tool; its stdout (it must exit 0 within the deadline)."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=TOOL_DEADLINE_S)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_basics(server: Any, protocol: int) -> None:
    r = redis.Redis(port=server.port, protocol=protocol)
    try:
        assert r.ping() is True
        assert r.set("k", "v") is True and r.get("k") == b"v"
        assert r.incr("n") == 1 and r.incr("n") == 2
        assert r.delete("k", "nope") == 1 and r.get("k") is None
        assert r.echo("hi") == b"hi"
        assert r.config_get("append*") == {"appendonly": "yes", "appendfsync": "always"}
        assert r.info("raft")["term"] == 3
        assert r.client_setname("me")
        assert r.client_getname() in ("me", b"me")  # redis-py decodes it in RESP2 only
        assert r.dbsize() == 1
        table = r.command()
        assert table["get"]["arity"] == 2 and table["mset"]["step_count"] == 2
        binary = b"a\r\nb\x00c\xff"
        assert r.set(binary, binary) and r.get(binary) == binary
        with pytest.raises(redis.ResponseError, match="unknown command 'NOPE'"):
            r.execute_command("NOPE")
        with pytest.raises(redis.ResponseError, match="wrong number of arguments for 'get'"):
            r.execute_command("GET")
    finally:
        r.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_pipeline_of_1000_in_order(server: Any, protocol: int) -> None:
    r = redis.Redis(port=server.port, protocol=protocol)
    pipe = r.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"k{i}", i)
        pipe.incr("counter")
        pipe.get(f"k{i}")
    replies = pipe.execute()
    assert replies == [x for i in range(1000) for x in (True, i + 1, str(i).encode())]
    r.close()


def test_redis_py_transaction_and_watch_conflict(server: Any) -> None:
    r = redis.Redis(port=server.port)
    other = redis.Redis(port=server.port)
    with r.pipeline() as pipe:
        pipe.set("a", 1).incr("a")
        assert pipe.execute() == [True, 2]
    with r.pipeline() as pipe:
        pipe.watch("a")
        other.set("a", 100)
        pipe.multi()
        pipe.incr("a")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    assert r.get("a") == b"100"
    r.close()
    other.close()


def test_redis_cli_set_then_get(server: Any) -> None:
    cli = tool("redis-cli")
    port = str(server.port)
    assert run(cli, "-p", port, "SET", "k", "hello world") == "OK\n"
    assert run(cli, "-p", port, "GET", "k") == "hello world\n"
    assert run(cli, "-p", port, "-3", "--no-raw", "GET", "missing") == "(nil)\n"
    assert run(cli, "-p", port, "-3", "--no-raw", "HELLO", "3").startswith('1# "server" => ')
    assert "role:leader" in run(cli, "-p", port, "INFO", "raft")
    assert run(cli, "-p", port, "NOPE", "x").splitlines()[0] == (
        "ERR unknown command 'NOPE', with args beginning with: 'x' "
    )


def test_redis_benchmark_runs_against_the_front_door(server: Any) -> None:
    bench = tool("redis-benchmark")
    out = run(bench, "-p", str(server.port), "-t", "set,get,incr", "-n", "2000", "-c", "10",
              "-P", "16", "-q")  # fmt: skip
    for test in ("SET", "GET", "INCR"):
        assert f"{test}: " in out and "requests per second" in out, out
    assert server.backend.data[b"counter:__rand_int__"] == b"2000"
