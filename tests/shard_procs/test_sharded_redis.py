"""`python -m sentinel.redis --dir DIR` serves a sharded store (a controller and two shard
groups of three nodes on real processes), used with redis-py as a Redis Cluster proxy is:

- the keyless commands run on every shard: DBSIZE, KEYS, SCAN (every key once, with COUNT,
  MATCH and TYPE), INFO keyspace (keys, and expires summed over the groups), FLUSHDB,
  FLUSHALL;
- a MULTI whose queued command leaves the transaction's shard gets CROSSSLOT when queued
  and EXEC answers EXECABORT (nothing applied); a shard-wide command inside MULTI is refused
  when queued; a transaction whose keys share a hash tag runs;
- a WATCH whose keys span shards, or leave the shard of the keys already watched, gets
  CROSSSLOT when issued and watches nothing more."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from harness_shard import GroupProcs, start_sharded_store

from sentinel.redis.service import read_status
from sentinel.shard.config import key_shard
from sentinel.shard.keys import SHARD_WIDE_IN_BLOCK_ERROR

DEADLINE_S = 30.0
#: The errors as redis-py reports them: its class for the code, then the text after the code.
CROSSSLOT = "ClusterCrossSlotError: Keys in request don't hash to the same slot"
EXECABORT = "ExecAbortError: Transaction discarded because of previous errors."


@pytest.fixture
def front_door(procs: GroupProcs) -> Iterator[redis.Redis]:
    """A sharded store and a separate `python -m sentinel.redis` process serving it."""
    start_sharded_store(procs)
    log = (procs.directory / "front-door.out").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "sentinel.redis", "--dir", str(procs.directory), "--port", "0"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        host, port = _wait_listening(procs.directory, proc)
        client = redis.Redis(host, port, socket_timeout=DEADLINE_S)
        yield client
        client.close()
    finally:
        proc.terminate()
        proc.wait(DEADLINE_S)
        log.close()


def _wait_listening(directory: Path, proc: subprocess.Popen) -> tuple[str, int]:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        status = read_status(directory)
        if status is not None and status.pid == proc.pid:
            host, port = status.address.rsplit(":", 1)
            return host, int(port)
        assert proc.poll() is None, (directory / "front-door.out").read_text()
        time.sleep(0.05)
    raise AssertionError("python -m sentinel.redis did not listen in time")


def _cross_pair(keys: list[bytes]) -> tuple[bytes, bytes]:
    return next((a, b) for a in keys for b in keys if key_shard(a) != key_shard(b))


def _wait_expires(r: redis.Redis, expires: int) -> None:
    """Until INFO keyspace says `expires`; AssertionError past the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while (found := r.info("keyspace").get("db0", {}).get("expires", 0)) != expires:
        assert time.monotonic() < deadline, f"INFO keyspace expires={found}, not {expires}"
        time.sleep(0.05)


def test_keyless_commands_run_on_every_shard(front_door: redis.Redis) -> None:
    r = front_door
    keys = [f"key:{i}".encode() for i in range(60)]
    assert len({key_shard(k) for k in keys}) == 10, "keys on every shard"
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, b"v")
    pipe.hset("h", "f", "1")
    assert all(pipe.execute())
    everything = sorted([*keys, b"h"])
    assert r.dbsize() == 61
    assert r.keys("*") == everything
    assert r.keys("key:1?") == sorted(k for k in keys if len(k) == 6 and k.startswith(b"key:1"))
    for count in (1, 7, 1000):
        assert sorted(r.scan_iter(count=count)) == everything
    assert sorted(r.scan_iter(match="key:5*")) == sorted(k for k in keys if k[:5] == b"key:5")
    assert list(r.scan_iter(_type="hash")) == [b"h"]
    assert r.info("keyspace")["db0"]["keys"] == 61
    expiring = keys[::3]
    assert len({key_shard(k) for k in expiring}) > 2, "keys with a TTL in several groups"
    assert all(r.expire(k, 1000) for k in expiring)
    _wait_expires(r, len(expiring))  # as of the groups' next status reports
    assert r.info("raft")["role"] == "leader"  # every group has a leader
    assert r.flushdb() is True
    assert r.dbsize() == 0 and r.keys("*") == [] and list(r.scan_iter()) == []
    _wait_expires(r, 0)
    r.set("again", "1")
    assert r.flushall() is True and r.dbsize() == 0


def test_multi_refuses_a_cross_slot_command_when_queued(front_door: redis.Redis) -> None:
    r = front_door
    a, b = _cross_pair([f"k{i}".encode() for i in range(20)])
    conn = r.connection_pool.get_connection()
    try:

        def ask(*args: bytes | str) -> object:
            conn.send_command(*args)
            try:
                return conn.read_response()
            except redis.ResponseError as exc:
                return f"{type(exc).__name__}: {exc}"

        assert ask("MULTI") == b"OK"
        assert ask("SET", a, "1") == b"QUEUED"
        assert ask("SET", b, "2") == CROSSSLOT
        assert ask("GET", a) == b"QUEUED"  # the same shard: still queued
        assert ask("EXEC") == EXECABORT
        assert ask("MULTI") == b"OK"
        assert ask("DBSIZE") == f"ResponseError: {SHARD_WIDE_IN_BLOCK_ERROR[4:]}"
        assert ask("EXEC") == EXECABORT
        assert ask("WATCH", a) == b"OK"
        assert ask("MULTI") == b"OK"
        assert ask("INCR", b) == CROSSSLOT  # not the watched key's shard
        assert ask("EXEC") == EXECABORT
        assert ask("WATCH", a, b) == CROSSSLOT  # keys of two shards
        assert ask("WATCH", a) == b"OK"
        assert ask("WATCH", b) == CROSSSLOT  # refused when issued: b is not watched
        assert ask("WATCH", a, b"{" + a + b"}x") == b"OK"  # the watched key's shard
        r.set(b, "theirs")  # another connection
        assert ask("MULTI") == b"OK"
        assert ask("SET", a, "mine") == b"QUEUED"
        assert ask("EXEC") == [b"OK"]  # b's change does not abort it
        assert r.get(a) == b"mine" and r.delete(a) == 1 and r.delete(b) == 1
    finally:
        r.connection_pool.release(conn)
    assert r.get(a) is None and r.get(b) is None  # nothing was applied
    pipe = r.pipeline(transaction=True)
    pipe.set("{u}a", "1").incr("{u}b").get("{u}a")
    assert pipe.execute() == [True, 1, b"1"]
