"""ClusterBackend against a fake cluster client: a real Keyspace behind futures completed
on another thread (as the router client's reader thread does), driven with redis-py."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any

import pytest
import redis

from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.kvraft.keyspace import Keyspace
from sentinel.redis.cluster_backend import CLUSTERDOWN, TRYAGAIN, UNKNOWN, ClusterBackend
from tests.redis.helpers import check_watch_conflict


class FakeClusterClient:
    """The Redis calls of the kvraft Client over one in-memory Keyspace. Each call completes
    on a timer thread after a random delay of up to `delay_s` (seeded), so calls overlap and
    finish out of order; `fail_with` makes every call fail with that exception."""

    def __init__(self, seed: int, delay_s: float = 0.002) -> None:
        print(f"fake cluster client seed {seed}")
        self.rng = random.Random(seed)
        self.delay_s = delay_s
        self.keyspace = Keyspace()
        self.lock = threading.Lock()
        self.calls: list[str] = []
        self.fail_with: Exception | None = None

    def _later(self, kind: str, work: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.calls.append(kind)

        def run() -> None:
            if self.fail_with is not None:
                future.set_exception(self.fail_with)
                return
            with self.lock:
                future.set_result(work(int(time.time() * 1000)))

        threading.Timer(self.rng.uniform(0, self.delay_s), run).start()
        return future

    def redis_async(self, args: Sequence[bytes], timeout_s: float = 5.0) -> Future[Any]:
        return self._later("one", lambda now: self.keyspace.apply(list(args), now))

    def redis_exec_async(
        self,
        commands: Sequence[Sequence[bytes]],
        watched: Mapping[bytes, int] | None,
        timeout_s: float = 5.0,
    ) -> Future[Any]:
        batch = [list(c) for c in commands]
        return self._later(
            "exec", lambda now: self.keyspace.apply_batch(batch, now, watched=watched)
        )

    def redis_versions_async(self, keys: Sequence[bytes], timeout_s: float = 5.0) -> Future[Any]:
        return self._later("versions", lambda now: self.keyspace.versions(keys, now))

    def redis_reads_async(
        self, commands: Sequence[Sequence[bytes]], timeout_s: float = 5.0
    ) -> Future[Any]:
        return self._later(
            "reads", lambda now: [self.keyspace.apply(list(c), now) for c in commands]
        )

    def run_together(self, fn: Callable[[], None]) -> None:
        threading.Timer(self.rng.uniform(0, self.delay_s), fn).start()


@pytest.fixture
def cluster(serve: Any) -> Any:
    seed = random.randrange(1 << 30)
    client = FakeClusterClient(seed)
    with serve(ClusterBackend(client)) as running:
        running.fake_client = client
        yield running


@pytest.mark.parametrize("protocol", [2, 3])
def test_strings_keys_and_transactions(cluster: Any, protocol: int) -> None:
    r = redis.Redis(port=cluster.port, protocol=protocol, socket_timeout=10)
    assert r.set(b"k\r\n\x00", b"v\x00\r\n") is True
    assert r.get(b"k\r\n\x00") == b"v\x00\r\n"
    assert r.incr("n") == 1
    assert r.incrbyfloat("f", 1.5) == 1.5
    assert r.mset({"a": "1", "b": "2"}) is True
    assert r.mget("a", "b", "zz") == [b"1", b"2", None]
    assert r.expire("a", 100) is True
    assert 0 < r.ttl("a") <= 100
    assert r.type("b") in (b"string", "string")
    assert r.set("word", "x") is True
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("word")
    pipe = r.pipeline(transaction=True)
    pipe.incr("n").get("n")
    assert pipe.execute() == [2, b"2"]


def test_pipeline_of_writes_applies_in_order_in_few_entries(cluster: Any) -> None:
    r = redis.Redis(port=cluster.port, socket_timeout=10)
    pipe = r.pipeline(transaction=False)
    for _ in range(1000):
        pipe.incr("counter")
    assert pipe.execute() == list(range(1, 1001))
    client = cluster.fake_client
    assert client.calls.count("exec") + client.calls.count("one") < 1000
    assert r.get("counter") == b"1000"


def test_a_pipeline_of_reads_goes_as_few_multi_read_calls(cluster: Any) -> None:
    """The reads of one pipeline share calls (RedisReads: one ReadIndex round each), and
    every reply still comes back in request order."""
    r = redis.Redis(port=cluster.port, socket_timeout=10)
    r.mset({f"r{i}": str(i) for i in range(300)})
    client = cluster.fake_client
    client.calls.clear()
    pipe = r.pipeline(transaction=False)
    for i in range(300):
        pipe.get(f"r{i}").strlen(f"r{i}")
    assert pipe.execute() == [x for i in range(300) for x in (str(i).encode(), len(str(i)))]
    assert "reads" in client.calls and len(client.calls) < 60, client.calls


def test_watch_conflict_aborts_the_exec(cluster: Any) -> None:
    r = redis.Redis(port=cluster.port, socket_timeout=10)
    other = redis.Redis(port=cluster.port, socket_timeout=10)
    r.set("w", "1")
    check_watch_conflict(r, other, "w")


@pytest.mark.parametrize(
    ("exc", "read", "write"),
    [
        (Unavailable("no leader"), TRYAGAIN, CLUSTERDOWN),
        (OutcomeUnknown("deadline"), TRYAGAIN, UNKNOWN),
    ],
)
def test_failures_become_redis_errors(cluster: Any, exc: Exception, read: str, write: str) -> None:
    r = redis.Redis(port=cluster.port, socket_timeout=10)
    cluster.fake_client.fail_with = exc
    if isinstance(exc, Unavailable):
        with pytest.raises(redis.ResponseError, match=read.split(" ", 1)[1][:30]):
            r.get("k")
        with pytest.raises(redis.ResponseError, match="deadline passed"):
            r.execute_command("WATCH", "k")
    with pytest.raises(redis.ResponseError, match=write.split(" ", 1)[1][:30]):
        r.set("k", "v")
    pipe = r.pipeline(transaction=True)
    pipe.set("k", "v")
    with pytest.raises(redis.ResponseError, match=write.split(" ", 1)[1][:30]):
        pipe.execute()
    cluster.fake_client.fail_with = None
    assert r.set("k", "v") is True  # the connection goes on serving
