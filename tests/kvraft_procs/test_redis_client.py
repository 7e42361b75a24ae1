"""The client's Redis API (redis / redis_exec / redis_versions and their _async twins)
against real processes: writes exactly once across a leader kill, EXEC all or nothing, WATCH,
and expiry that every replica agrees on across a restart."""

from __future__ import annotations

import time

import pytest
from harness_kv import OP_DEADLINE_S

import sentinel
from sentinel.kvraft.keyspace import Array, Bulk, Error, Int, Null, Simple

pytestmark = pytest.mark.processes


def _wait_for(condition, what: str, deadline_s: float = 20.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_commands_replies_and_validation(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        assert kv.redis([b"SET", b"k\r\n\x00", b"v\x00\xff"]) == Simple("OK")
        assert kv.redis([b"get", b"k\r\n\x00"]) == Bulk(b"v\x00\xff")
        assert kv.redis([b"GET", b"missing"]) == Null()
        assert kv.redis([b"INCR", b"n"]) == Int(1)
        assert kv.redis_async([b"INCRBY", b"n", b"41"]).result(OP_DEADLINE_S) == Int(42)
        assert kv.redis([b"INCR", b"k\r\n\x00"]) == Error(
            "ERR value is not an integer or out of range"
        )
        # refused before anything is sent: the Error reply, not an exception
        rpcs = kv.rpcs
        assert kv.redis([b"GET"]).text.startswith("ERR wrong number of arguments")
        assert kv.redis([b"NOSUCH", b"x"]).text.startswith("ERR unknown command")
        assert kv.rpcs == rpcs
        # the str API and the Redis API share one store
        kv.put("s", "text")
        assert kv.redis([b"APPEND", b"s", b"!"]) == Int(5)
        assert kv.get("s") == "text!"


def test_exec_is_all_or_nothing_and_watch_aborts(make_cluster):
    cfg = make_cluster(3)
    with sentinel.connect(cfg.directory) as kv:
        kv.redis([b"SET", b"a", b"1"])
        versions = kv.redis_versions([b"a", b"b"])
        assert set(versions) == {b"a", b"b"}
        replies = kv.redis_exec([[b"INCR", b"a"], [b"SET", b"b", b"x"], [b"INCR", b"b"]], versions)
        assert replies == [
            Int(2),
            Simple("OK"),
            Error("ERR value is not an integer or out of range"),
        ]
        # a watched key changed since its version was read: nothing of the block runs
        assert kv.redis_exec([[b"SET", b"a", b"zzz"], [b"DEL", b"b"]], versions) is None
        assert kv.redis([b"MGET", b"a", b"b"]) == Array((Bulk(b"2"), Bulk(b"x")))
        bad = kv.redis_exec([[b"SET", b"a", b"9"], [b"GET"]])
        assert isinstance(bad, Error) and kv.redis([b"GET", b"a"]) == Bulk(b"2")
