"""One address for the whole sharded store, on real processes (a controller and two shard
groups of three nodes): the Python client (`sentinel.connect` on the directory) and the
Redis front door's sharded backend route every command by key; commands whose keys span
shards are refused with Redis's CROSSSLOT error unless hash tags put them in one shard;
pipelined writes of one connection that span shards still apply in order."""

from __future__ import annotations

import asyncio

from harness_shard import GroupProcs, start_sharded_store

from sentinel.kvraft.keyspace import Bulk, Error, Int, Simple
from sentinel.redis.backend import Caller
from sentinel.redis.replies import Error as DoorError
from sentinel.redis.sharded_backend import ShardedBackend
from sentinel.shard.config import key_shard
from sentinel.shard.keys import CROSSSLOT_ERROR
from sentinel.shard.pool import ShardedClient


def test_python_client_routes_by_key(procs: GroupProcs) -> None:
    import sentinel

    start_sharded_store(procs)
    with sentinel.connect(procs.directory) as client:
        assert isinstance(client, ShardedClient)
        config = procs.ctl_clerk([1, 2, 3]).query(-1)
        keys = [f"k{i}" for i in range(20)]
        assert len({config.owner(k) for k in keys}) == 2, "keys on both groups"
        futures = [client.put_async(k, f"v{k}") for k in keys]
        for future in futures:
            future.result()
        assert [client.get(k) for k in keys] == [f"v{k}" for k in keys]
        client.append("k1", "+")
        assert client.get("k1") == "vk1+" and client.get("absent") is None
        assert client.cas("k2", "vk2", "new") and not client.cas("k2", "vk2", "x")
        assert client.delete("k3") and client.get("k3") is None
        assert client.redis([b"INCR", b"n"]) == Int(1)
        assert client.redis([b"MSET", b"{u}a", b"1", b"{u}b", b"2"]) is not None
        assert client.redis([b"MGET", b"{u}a", b"{u}b"]).items == (Bulk(b"1"), Bulk(b"2"))
        a, b = next((x, y) for x in keys for y in keys if key_shard(x) != key_shard(y))
        assert client.redis([b"MGET", a.encode(), b.encode()]) == Error(CROSSSLOT_ERROR)
        block = [[b"SET", b"{u}a", b"3"], [b"INCR", b"{u}b"]]
        assert client.redis_exec(block) == [Simple("OK"), Int(3)]


def test_redis_backend_routes_and_refuses_crossslot(procs: GroupProcs) -> None:
    start_sharded_store(procs)
    client = ShardedClient(procs.net, rpc_timeout_s=0.5)  # type: ignore[arg-type]
    backend = ShardedBackend(client)
    me = Caller(1, "test")
    keys = [f"key{i}".encode() for i in range(12)]
    a, b = next((x, y) for x in keys for y in keys if key_shard(x) != key_shard(y))

    async def scenario() -> None:
        # a pipeline of one connection's writes over both groups, applied in order
        writes = [backend.execute([b"APPEND", k, k], me) for k in keys]
        writes += [backend.execute([b"APPEND", k, b"+"], me) for k in keys]
        lengths = [len(k) for k in keys] + [len(k) + 1 for k in keys]
        assert await asyncio.gather(*writes) == lengths
        # a burst of reads over both groups: read shard by shard, answered in order
        reads = await asyncio.gather(*(backend.execute([b"GET", k], me) for k in keys))
        assert reads == [k + b"+" for k in keys]
        assert await backend.execute([b"MSET", a, b"1", b, b"2"], me) == DoorError(CROSSSLOT_ERROR)
        assert await backend.execute([b"RENAME", a, b], me) == DoorError(CROSSSLOT_ERROR)
        assert await backend.execute([b"DEL", a, b], me) == DoorError(CROSSSLOT_ERROR)
        assert await backend.execute([b"KEYS", b"key1*"], me) == sorted(
            k for k in keys if k.startswith(b"key1")
        )  # every shard's keys
        assert await backend.execute([b"DEL", b"{t}1", b"{t}2"], me) == 0
        batch = [[b"SET", a, b"1"], [b"SET", b, b"2"]]
        assert await backend.execute_batch(batch, {}, me) == DoorError(CROSSSLOT_ERROR)
        assert await backend.watch([a, b], me) == DoorError(CROSSSLOT_ERROR)
        versions = await backend.watch([b"{t}1"], me)
        done = await backend.execute_batch([[b"SET", b"{t}1", b"v"]], {b"{t}1": versions[0]}, me)
        assert done is not None and await backend.execute([b"GET", b"{t}1"], me) == b"v"

    try:
        asyncio.run(scenario())
    finally:
        client._executor.shutdown(wait=True)
