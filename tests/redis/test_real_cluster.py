"""The Redis front door through a real 3-node cluster (`up --redis-port`), driven by redis-py:
every command group in RESP2 and RESP3, pipelines, transactions, binary data, expiry across a
leader change and a restart, a leader kill inside a pipeline of 10,000 INCRs, a partition
between the front door and the leader, garbage on one socket, and a GET/SET/INCR history
checked with sentinel.lin."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from sentinel.kvraft.client import Client
from sentinel.lin.checker import CheckResult, check_operations
from sentinel.lin.history import PENDING, UNKNOWN, Operation
from sentinel.lin.models import KvInput, KvModel
from tests.redis.helpers import check_watch_conflict

pytestmark = [
    pytest.mark.processes,
    pytest.mark.skipif(
        not hasattr(Client, "redis_async"), reason="the client's Redis calls (branch redis-sm)"
    ),
]

DEADLINE_S = 60.0
CLI = [sys.executable, "-m", "sentinel.cluster"]


class Cluster:
    """`up -n 3 --redis-port <free>` in a temporary directory, and its command line."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.out = open(directory.parent / "up.out", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*CLI, "up", "--dir", str(directory), "-n", "3", "--no-dashboard",
             "--redis-port", str(self.port)],
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self.wait_for(lambda: self.leader() is not None, "a leader")

    def run(self, *args: str) -> str:
        done = subprocess.run([*CLI, *args, "--dir", str(self.dir)], capture_output=True,
                              text=True, timeout=DEADLINE_S)  # fmt: skip
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done.stdout

    def leader(self) -> int | None:
        try:
            status = json.loads(self.run("status", "--json"))
        except AssertionError:
            return None
        return status["leader"] if status.get("redis") else None

    @staticmethod
    def wait_for(check: Any, what: str) -> Any:
        deadline = time.monotonic() + DEADLINE_S
        while not (value := check()):
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.1)
        return value

    def client(self, protocol: int = 2) -> redis.Redis:
        return redis.Redis(port=self.port, protocol=protocol, socket_timeout=DEADLINE_S)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(DEADLINE_S)
        self.out.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("redis-cluster") / "c")
    yield running
    running.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_command_groups(cluster: Cluster, protocol: int) -> None:
    r = cluster.client(protocol)
    p = f"groups{protocol}:"
    assert r.ping() is True and r.echo("hi") == b"hi"
    assert r.set(p + "s", "v", ex=100) is True and 0 < r.ttl(p + "s") <= 100
    assert r.set(p + "s", "w", nx=True) is None
    assert r.getset(p + "s", "x") == b"v" and r.append(p + "s", "yz") == 3
    assert r.getrange(p + "s", 1, 2) == b"yz" and r.strlen(p + "s") == 3
    assert r.incrby(p + "n", 5) == 5 and r.decr(p + "n") == 4
    assert r.incrbyfloat(p + "f", 0.5) == 0.5
    assert r.mset({p + "a": "1", p + "b": "2"}) and r.mget(p + "a", p + "b") == [b"1", b"2"]
    assert r.exists(p + "a", p + "b", p + "none") == 2
    assert r.rename(p + "a", p + "c") is True and r.type(p + "c") in (b"string", "string")
    assert r.expire(p + "c", 50) is True and r.persist(p + "c") is True and r.ttl(p + "c") == -1
    assert sorted(r.keys(p + "*")) == sorted(
        k.encode() for k in (p + "s", p + "n", p + "f", p + "b", p + "c")
    )
    assert r.delete(p + "b", p + "c") == 2 and r.getdel(p + "s") == b"xyz"
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr(p + "f")
    assert r.dbsize() >= 2 and "raft" not in r.info("server")
    assert r.info("raft")["role"] == "leader"


def test_a_pipeline_of_1000_and_binary_data(cluster: Cluster) -> None:
    r = cluster.client()
    pipe = r.pipeline(transaction=False)
    for i in range(500):
        pipe.set(f"pipe:{i}", i).get(f"pipe:{i}")
    replies = pipe.execute()
    assert replies == [x for i in range(500) for x in (True, str(i).encode())]
    key, value = b"bin\r\n\x00key", b"\x00\r\n\xff value\r\n"
    assert r.set(key, value) is True and r.get(key) == value


def test_multi_exec_and_a_watch_conflict(cluster: Cluster) -> None:
    r, other = cluster.client(), cluster.client(3)
    pipe = r.pipeline(transaction=True)
    pipe.set("tx:a", 1).incr("tx:a").get("tx:a")
    assert pipe.execute() == [True, 2, b"2"]
    check_watch_conflict(r, other, "tx:a")


def test_garbage_closes_that_connection_only(cluster: Cluster) -> None:
    r = cluster.client()
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=DEADLINE_S) as bad:
        bad.sendall(b"*1\r\n$-5\r\nxx\r\n")
        data = b""
        while chunk := bad.recv(4096):
            data += chunk
        assert data.startswith(b"-ERR Protocol error")
    assert r.set("after-garbage", "ok") is True


def test_a_leader_kill_inside_10000_incrs(cluster: Cluster) -> None:
    """10,000 pipelined INCRs on one connection, the leader killed after the first 2,000 are
    sent and before the rest: every reply is the next number, and the counter ends at 10,000.
    The kill is made between two writes of the same pipeline, so it lands inside it on any host."""
    r = cluster.client()
    r.delete("kill:counter")
    leader = cluster.leader()
    incr = b"*2\r\n$4\r\nINCR\r\n$12\r\nkill:counter\r\n"
    with socket.create_connection(("127.0.0.1", cluster.port), timeout=60) as sock:
        sock.sendall(incr * 2_000)
        cluster.run("kill", str(leader))
        sock.sendall(incr * 8_000)
        reader = sock.makefile("rb")
        replies = [reader.readline() for _ in range(10_000)]
    assert replies == [b":%d\r\n" % n for n in range(1, 10_001)]
    assert r.get("kill:counter") == b"10000"
    assert cluster.leader() != leader
    cluster.run("restart", str(leader))


def test_expiry_across_a_leader_change_and_a_restart(cluster: Cluster) -> None:
    r = cluster.client()
    r.set("exp:short", "v", px=300)
    r.set("exp:long", "v", ex=600)
    cluster.wait_for(  # INFO counts the keys with a time to live (the nodes' status lags)
        lambda: r.info("keyspace").get("db0", {}).get("expires", 0) >= 1, "INFO's expires"
    )
    leader = cluster.wait_for(cluster.leader, "a leader")
    cluster.run("kill", str(leader))
    cluster.wait_for(lambda: cluster.leader() not in (None, leader), "a new leader")
    cluster.wait_for(lambda: r.get("exp:short") is None, "the short key to expire")
    assert r.exists("exp:short") == 0 and 590 < r.ttl("exp:long") <= 600
    cluster.run("restart", str(leader))
    for node in (1, 2, 3):  # every node restarted: expiry times come back from the disks
        cluster.run("restart", str(node))
    cluster.wait_for(cluster.leader, "a leader after the restarts")
    assert r.get("exp:short") is None and 0 < r.ttl("exp:long") <= 600


def test_a_partition_between_the_front_door_and_the_leader(cluster: Cluster) -> None:
    r = cluster.client()
    leader = cluster.wait_for(cluster.leader, "a leader")
    cluster.run("partition", str(leader))
    try:
        assert r.set("part:k", "v") is True  # the front door follows the new majority
        assert r.get("part:k") == b"v"
    finally:
        cluster.run("heal")


class RedisKvModel(KvModel):
    """The kv model plus INCR: a register of decimal text per key, "" when absent."""

    def step(self, state: str, input: KvInput, output: Any) -> tuple[bool, str]:
        if input[0] != "incr":
            return super().step(state, input, output)
        after = str(int(state or "0") + 1)
        return (output is UNKNOWN or str(output) == after), after

    def compile_operation(self, input: KvInput, output: Any) -> tuple[str, Any] | None:
        return None if input[0] == "incr" else super().compile_operation(input, output)


def test_get_set_incr_history_is_linearizable(cluster: Cluster) -> None:
    seed = random.randrange(1 << 30)
    print(f"history seed {seed}")
    ops: list[Operation] = []
    lock = threading.Lock()
    start = time.monotonic()

    def worker(cid: int) -> None:
        rng = random.Random(seed + cid)
        r = cluster.client(2 + cid % 2)
        for _ in range(60):
            key = f"lin:{rng.randrange(3)}"
            kind = rng.choice(("get", "put", "incr"))
            value = str(rng.randrange(100)) if kind == "put" else None
            began = time.monotonic() - start
            try:
                if kind == "get":
                    got = r.get(key)
                    out: Any = got.decode() if got is not None else ""
                elif kind == "put":
                    r.set(key, value)
                    out = None
                else:
                    out = r.incr(key)
            except redis.ResponseError as exc:
                if not str(exc).startswith("UNKNOWN"):
                    continue  # certainly not applied (or a read): leaves no trace
                out, ended = UNKNOWN, PENDING
            else:
                ended = time.monotonic() - start
            with lock:
                ops.append(Operation(cid, KvInput(kind, key, value), began, out, ended))

    for key in range(3):
        cluster.client().delete(f"lin:{key}")
    threads = [threading.Thread(target=worker, args=(cid,)) for cid in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_S * 2)
    assert len(ops) > 100
    result = check_operations(RedisKvModel(), ops, timeout_s=60)
    assert result == CheckResult.OK, result
