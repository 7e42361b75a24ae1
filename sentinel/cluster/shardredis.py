"""The Redis front door over a sharded store: `ShardedBackend`, the ClusterBackend over a
`ShardedClient` (shard/pool.py), so one Redis address serves every shard.

Each command goes to the group owning its keys' shard. As in Redis Cluster, a command, a
MULTI/EXEC block or a WATCH whose keys hash to different shards is refused with
`CROSSSLOT Keys in request don't hash to the same slot` (hash tags `{...}` put keys in one
shard), and a command that names no key (KEYS, SCAN, DBSIZE, FLUSHALL, RANDOMKEY...) is
refused too: it would need every shard. Nothing is sent for a refused command.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sentinel.kvraft.commands import RedisExec, RedisRead, RedisVersions
from sentinel.kvraft.keyspace import COMMANDS
from sentinel.redis.backend import Caller, Version
from sentinel.redis.cluster_backend import ClusterBackend
from sentinel.redis.replies import Error
from sentinel.redis.service import raft_status
from sentinel.shard.config import NSHARDS
from sentinel.shard.keys import ShardKeyError, command_shard
from sentinel.shard.pool import ShardedClient
from sentinel.shard.pool import connect as connect_sharded


def refusal(command: Any) -> Error | None:
    """The CROSSSLOT (or no-key) error for `command`, or None when it runs on one shard."""
    try:
        command_shard(command, NSHARDS)
    except ShardKeyError as exc:
        return Error(str(exc))
    return None


class ShardedBackend(ClusterBackend):
    """The front door's backend over a sharded store (see the module docstring)."""

    def execute(self, command: list[bytes], caller: Caller) -> asyncio.Future[Any]:
        known = bool(command) and bytes(command[0]).upper() in COMMANDS
        refused = refusal(RedisRead(tuple(command))) if known else None
        return _ready(refused) if refused else super().execute(command, caller)

    def execute_batch(
        self, commands: Sequence[list[bytes]], watched: dict[bytes, Version], caller: Caller
    ) -> asyncio.Future[Any]:
        block = tuple(tuple(args) for args in commands)
        refused = refusal(RedisExec(block, tuple((key, 0) for key in watched), 0, 0))
        return _ready(refused) if refused else super().execute_batch(commands, watched, caller)

    async def watch(self, keys: Sequence[bytes], caller: Caller) -> list[Version] | Error:
        refused = refusal(RedisVersions(tuple(keys)))
        return refused or await super().watch(keys, caller)


def _ready(reply: Any) -> asyncio.Future[Any]:
    """A loop future that already holds `reply`."""
    done = asyncio.get_running_loop().create_future()
    done.set_result(reply)
    return done


def open_sharded_backend(
    directory: Path, loop: asyncio.AbstractEventLoop
) -> tuple[ShardedClient, ShardedBackend]:
    """A client of the sharded cluster in `directory` and the backend over it (blocking).
    The client's own threads read its router connection, not `loop`: each call waits on a
    worker thread of its own."""
    client = connect_sharded(directory)
    return client, ShardedBackend(client, raft_status=lambda: raft_status(client.network))
