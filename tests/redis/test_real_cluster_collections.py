"""Lists and sorted sets through a real 3-node cluster (`up --redis-port`), driven by
redis-py: every command in RESP2 and RESP3 with the answers Redis documents, the refused
blocking commands, a leader kill inside a pipeline of 10,000 LPUSHes, a restart of every
node from snapshots, and a history of list operations checked with sentinel.lin (a list as
a register of its contents, per key). The cluster snapshots often (--maxraftstate 65536)."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from sentinel.lin.checker import CheckResult, check_operations
from sentinel.lin.history import UNKNOWN
from sentinel.lin.models import KvInput, KvModel
from tests.redis.helpers import Step, record_history
from tests.redis.test_real_cluster import DEADLINE_S, Cluster, pytestmark  # noqa: F401

INF = float("inf")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("redis-collections") / "c", "--maxraftstate", "65536")
    yield running
    running.close()


def pairs(reply: Any) -> list[tuple[bytes, float]]:
    """WITHSCORES / ZPOPMIN replies as (member, score) pairs, whatever the protocol (RESP3's
    ZPOPMIN without a count is one flat pair, as from Redis 7)."""
    if reply and isinstance(reply[0], bytes):
        reply = [reply[i : i + 2] for i in range(0, len(reply), 2)]
    return [(bytes(member), float(score)) for member, score in reply]


@pytest.mark.parametrize("protocol", [2, 3])
def test_list_commands(cluster: Cluster, protocol: int) -> None:
    r = cluster.client(protocol)
    k, other = f"list:{protocol}", f"list:{protocol}:other"
    r.delete(k, other)
    assert r.rpush(k, "a", "b", "c") == 3 and r.lpush(k, "x") == 4
    assert r.lpushx(k, "y") == 5 and r.rpushx(k, "z") == 6 and r.lpushx("nolist", "a") == 0
    assert r.rpushx("nolist", "a") == 0
    assert r.lrange(k, 0, -1) == [b"y", b"x", b"a", b"b", b"c", b"z"]
    assert r.llen(k) == 6 and r.lindex(k, -2) == b"c" and r.lindex(k, 10) is None
    assert r.lset(k, 0, "Y") is True
    with pytest.raises(redis.ResponseError, match="index out of range"):
        r.lset(k, 10, "v")
    assert r.linsert(k, "BEFORE", "a", "a0") == 7 and r.linsert(k, "AFTER", "q", "v") == -1
    assert r.lpos(k, "a") == 3 and r.lpos(k, "b", count=0) == [4]
    assert r.lpos(k, "nothing") is None
    assert r.lrem(k, 0, "a0") == 1
    assert r.lpop(k) == b"Y" and r.rpop(k) == b"z"
    assert r.lpop(k, 2) == [b"x", b"a"] and r.rpop(k, 5) == [b"c", b"b"]
    assert r.exists(k) == 0 and r.lpop(k) is None and r.lpop(k, 2) is None
    r.rpush(k, "1", "2", "3", "4")
    assert r.ltrim(k, 1, -2) is True and r.lrange(k, 0, -1) == [b"2", b"3"]
    assert r.lmove(k, other, "LEFT", "RIGHT") == b"2" and r.rpoplpush(k, other) == b"3"
    assert r.lrange(other, 0, -1) == [b"3", b"2"] and r.exists(k) == 0
    assert r.type(other) in (b"list", "list")
    r.set(k, "string")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush(k, "a")


@pytest.mark.parametrize("protocol", [2, 3])
def test_sorted_set_commands(cluster: Cluster, protocol: int) -> None:
    r = cluster.client(protocol)
    z, lex = f"zset:{protocol}", f"zset:{protocol}:lex"
    r.delete(z, lex)
    assert r.zadd(z, {"a": 1, "b": 2, "c": 3}) == 3
    assert r.zadd(z, {"a": 5, "d": 4}, nx=True) == 1
    assert r.zadd(z, {"a": 0.5, "e": 9}, xx=True, ch=True) == 1
    assert r.zadd(z, {"b": 1}, gt=True, ch=True) == 0
    assert r.zadd(z, {"a": 2.5}, incr=True) == 3.0
    assert r.zincrby(z, 1.5, "b") == 3.5
    assert r.zscore(z, "a") == 3.0 and r.zscore(z, "none") is None
    assert r.zmscore(z, ["a", "none"]) == [3.0, None]
    assert r.zcard(z) == 4 and r.zcount(z, "(3", "+inf") == 2
    assert r.zrank(z, "a") == 0 and r.zrevrank(z, "a") == 3
    assert r.zrange(z, 0, -1) == [b"a", b"c", b"b", b"d"]
    assert pairs(r.zrange(z, 0, 1, withscores=True)) == [(b"a", 3.0), (b"c", 3.0)]
    assert r.zrange(z, 0, 1, desc=True) == [b"d", b"b"]
    assert r.zrange(z, "(3", "+inf", byscore=True) == [b"b", b"d"]
    assert r.zrange(z, "+inf", "-inf", byscore=True, desc=True, offset=1, num=2) == [b"b", b"c"]
    assert r.zrangebyscore(z, 3, 3.5) == [b"a", b"c", b"b"]
    assert pairs(r.zrevrangebyscore(z, INF, 3.5, withscores=True)) == [(b"d", 4.0), (b"b", 3.5)]
    r.zadd(lex, {"a": 0, "b": 0, "c": 0, "d": 0})
    assert r.zrangebylex(lex, "[b", "(d") == [b"b", b"c"]
    assert r.zrange(lex, "[b", "+", bylex=True, offset=1, num=5) == [b"c", b"d"]
    assert pairs(r.zpopmin(z)) == [(b"a", 3.0)]
    assert pairs(r.zpopmax(z, 2)) == [(b"d", 4.0), (b"b", 3.5)]
    r.zadd(z, {"x": 10, "y": 11, "w": 12})
    assert r.zremrangebyrank(z, 0, 0) == 1 and r.zremrangebyscore(z, 11, "+inf") == 2
    assert r.zrem(z, "x", "none") == 1 and r.exists(z) == 0
    cursor, found = r.zscan(lex, 0)
    assert cursor == 0 and pairs(found) == [(m, 0.0) for m in (b"a", b"b", b"c", b"d")]
    assert r.type(lex) in (b"zset", "zset")
    with pytest.raises(redis.ResponseError, match="not a valid float"):
        r.execute_command("ZADD", z, "abc", "m")
    with pytest.raises(redis.ResponseError, match="min or max is not a float"):
        r.zrangebyscore(z, "x", 1)


def test_blocking_commands_are_refused(cluster: Cluster) -> None:
    r = cluster.client()
    for call, poll in [(lambda: r.blpop(["b:l"], 1), "LPOP"),
                       (lambda: r.brpoplpush("b:l", "b:m", 1), "RPOPLPUSH"),
                       (lambda: r.bzpopmin(["b:z"], 1), "ZPOPMIN")]:  # fmt: skip
        with pytest.raises(redis.ResponseError, match=f"not supported.*poll {poll}"):
            call()
    assert r.ping() is True  # the connection keeps serving


def test_collections_in_multi_exec_scan_and_rename(cluster: Cluster) -> None:
    r = cluster.client(3)
    r.delete("tx:l", "tx:z", "tx:l2")
    pipe = r.pipeline(transaction=True)
    pipe.rpush("tx:l", "a", "b").zadd("tx:z", {"m": 1}).lpop("tx:l").zscore("tx:z", "m")
    assert pipe.execute() == [2, 1, b"a", 1.0]
    assert r.rename("tx:l", "tx:l2") is True and r.lrange("tx:l2", 0, -1) == [b"b"]
    keys = set(r.scan_iter(match="tx:*", _type="zset"))
    assert keys == {b"tx:z"}


def test_a_leader_kill_inside_10000_lpushes(cluster: Cluster) -> None:
    """10,000 pipelined LPUSHes on one connection, the leader killed after the first 2,000
    are sent: every reply is the next length, and the list ends exactly as long as the
    acknowledged pushes, each element once, in order."""
    r = cluster.client()
    r.delete("kill:list")
    leader = cluster.leader()

    def push(i: int) -> bytes:
        value = b"%d" % i
        return b"*3\r\n$5\r\nLPUSH\r\n$9\r\nkill:list\r\n$%d\r\n%b\r\n" % (len(value), value)

    with socket.create_connection(("127.0.0.1", cluster.port), timeout=DEADLINE_S) as sock:
        sock.sendall(b"".join(push(i) for i in range(2_000)))
        cluster.run("kill", str(leader))
        sock.sendall(b"".join(push(i) for i in range(2_000, 10_000)))
        reader = sock.makefile("rb")
        replies = [reader.readline() for _ in range(10_000)]
    acknowledged = [line for line in replies if line.startswith(b":")]
    assert replies == [b":%d\r\n" % n for n in range(1, 10_001)]
    assert r.llen("kill:list") == len(acknowledged) == 10_000
    assert r.lrange("kill:list", 0, -1) == [b"%d" % i for i in reversed(range(10_000))]
    cluster.run("restart", str(leader))


def test_every_node_restarts_from_its_snapshot_identical(cluster: Cluster) -> None:
    r = cluster.client()
    r.delete("snap:l", "snap:z")
    r.rpush("snap:l", *[f"item-{i}" * 5 for i in range(3_000)])  # past --maxraftstate
    r.zadd("snap:z", {f"m{i}": i / 4 for i in range(3_000)})
    r.zadd("snap:z", {"low": float("-inf"), "high": INF})
    r.expire("snap:z", 3_600)
    before = (r.lrange("snap:l", 0, -1), r.zrange("snap:z", 0, -1, withscores=True))
    cluster.wait_for(lambda: len(list(cluster.dir.rglob("snap-*"))) >= 3, "a snapshot per node")
    for node in (1, 2, 3):
        cluster.run("restart", str(node))
    cluster.wait_for(cluster.leader, "a leader after the restarts")
    r = cluster.client()
    after = (r.lrange("snap:l", 0, -1), r.zrange("snap:z", 0, -1, withscores=True))
    assert after == before and 0 < r.ttl("snap:z") <= 3_600
    assert r.type("snap:l") == b"list" and r.type("snap:z") == b"zset"


class ListModel(KvModel):
    """A list per key as a register of its contents (comma-joined, "" when empty): RPUSH
    answers the new length, LPOP the head ("" for nil), LRANGE 0 -1 the contents."""

    name = "list"

    def step(self, state: str, input: KvInput, output: Any) -> tuple[bool, str]:
        items = state.split(",") if state else []
        kind = input[0]
        if kind == "rpush":
            after = [*items, input[2]]
            return (output is UNKNOWN or output == len(after)), ",".join(after)
        if kind == "lpop":
            head = items[0] if items else ""
            return (output is UNKNOWN or output == head), ",".join(items[1:])
        if kind == "lrange":
            return (output is UNKNOWN or output == state), state
        raise ValueError(f"list model: unknown operation {kind!r}")

    def is_read_only(self, input: KvInput, output: Any) -> bool:
        return input[0] == "lrange"

    def compile_operation(self, input: KvInput, output: Any) -> tuple[str, Any] | None:
        return None

    def describe_operation(self, input: KvInput, output: Any) -> str:
        return f"{input[0]}({input[1]!r}, {input[2]!r}) -> {output!r}"


def _list_step(rng: random.Random, n: int) -> Step:
    key = f"linl:{rng.randrange(2)}"
    kind = rng.choice(("rpush", "rpush", "lpop", "lrange"))
    if kind == "rpush":
        value = f"{rng.randrange(1 << 30)}-{n}"
        return KvInput(kind, key, value), lambda r: r.rpush(key, value)
    if kind == "lpop":
        return KvInput(kind, key, None), lambda r: (r.lpop(key) or b"").decode()
    return KvInput(kind, key, None), lambda r: b",".join(r.lrange(key, 0, -1)).decode()


def test_list_history_is_linearizable(cluster: Cluster) -> None:
    seed = random.randrange(1 << 30)
    print(f"history seed {seed}")
    cluster.client().delete("linl:0", "linl:1")
    ops = record_history(lambda cid: cluster.client(2 + cid % 2), _list_step, seed)
    assert len(ops) > 100
    result = check_operations(ListModel(), ops, timeout_s=60)
    assert result == CheckResult.OK, result
