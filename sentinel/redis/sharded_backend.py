"""The Redis front door over a sharded store: `ShardedBackend`, the ClusterBackend over a
`ShardedClient` (shard/pool.py), so one Redis address serves every shard, as a Redis
Cluster proxy does.

Each command goes to the group owning its keys' shard. As in Redis Cluster, a command or a
WATCH whose keys hash to different shards is refused with `CROSSSLOT Keys in request don't
hash to the same slot` (hash tags `{...}` put keys in one shard), and so is a WATCH whose
keys are not in the shard of the keys the connection already watches (refused when issued;
nothing more is watched), and a command queued in MULTI whose keys are not in the shard of
the transaction's earlier commands and watched keys: it is refused when queued, and EXEC
then answers EXECABORT. The shard-wide
commands (KEYS, SCAN, DBSIZE, FLUSHDB, FLUSHALL) run on every shard, their replies merged
(shard/fanout.py: each shard's part is linearizable, the whole is not a snapshot); inside
MULTI they are refused when queued. Nothing is sent for a refused command.

INFO's raft section covers every raft group (the controller's and each shard group's):
`sharded_raft_status`.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from sentinel.host.nodestatus import decode_status
from sentinel.kvraft.commands import RedisExec, RedisRead, RedisVersions
from sentinel.kvraft.keyspace import COMMANDS
from sentinel.netsim.client import Network
from sentinel.redis.backend import Caller, Pending, RaftStatus, Version
from sentinel.redis.cluster_backend import ClusterBackend
from sentinel.redis.replies import Error
from sentinel.redis.service import REPORT_TIMEOUT_S
from sentinel.shard.config import NSHARDS, key_shard, node_name_of
from sentinel.shard.keys import (
    CROSSSLOT_ERROR,
    SHARD_WIDE_IN_BLOCK_ERROR,
    ShardKeyError,
    command_shard,
    is_shard_wide,
    redis_keys,
)
from sentinel.shard.pool import ShardedClient
from sentinel.shard.pool import connect as connect_sharded


def refusal(command: Any) -> Error | None:
    """The CROSSSLOT (or keyless) error for `command`, or None when it runs on one shard
    (or, a shard-wide command alone, on every shard)."""
    try:
        command_shard(command, NSHARDS)
    except ShardKeyError as exc:
        return Error(str(exc))
    return None


def _known(args: Sequence[bytes]) -> bool:
    """A command of the keyspace (the others are the front door's own, or unknown)."""
    return bool(args) and bytes(args[0]).upper() in COMMANDS


class ShardedBackend(ClusterBackend):
    """The front door's backend over a sharded store (see the module docstring)."""

    def execute(self, command: list[bytes], caller: Caller) -> Pending:
        refused = refusal(RedisRead(tuple(command))) if _known(command) else None
        return Pending.of(refused) if refused else super().execute(command, caller)

    def execute_batch(
        self, commands: Sequence[list[bytes]], watched: dict[bytes, Version], caller: Caller
    ) -> Pending:
        block = tuple(tuple(args) for args in commands)
        refused = refusal(RedisExec(block, tuple((key, 0) for key in watched), 0, 0))
        return Pending.of(refused) if refused else super().execute_batch(commands, watched, caller)

    def watch(self, keys: Sequence[bytes], caller: Caller) -> Pending:
        refused = refusal(RedisVersions(tuple(keys)))
        return Pending.of(refused) if refused else super().watch(keys, caller)

    def refuse_queued(
        self, queued: Sequence[list[bytes]], args: list[bytes], watched: Collection[bytes]
    ) -> Error | None:
        """Redis Cluster's check when a command is queued in MULTI, or a WATCH is issued:
        `args` must name keys of one shard, the shard of the keys `watched` and `queued`
        name (all already checked); a queued command must not be shard-wide."""
        if bytes(args[0]).upper() == b"WATCH":
            command: Any = RedisVersions(tuple(args[1:]))
            mine = list(args[1:])
        elif not _known(args):
            return None
        elif is_shard_wide(args):
            return Error(SHARD_WIDE_IN_BLOCK_ERROR)
        else:
            command, mine = RedisRead(tuple(args)), redis_keys(args)
        refused = refusal(command)
        if refused is not None or not mine:
            return refused
        home = _first_shard(queued, watched)
        if home is not None and key_shard(mine[0], NSHARDS) != home:
            return Error(CROSSSLOT_ERROR)
        return None


def _first_shard(queued: Sequence[list[bytes]], watched: Collection[bytes]) -> int | None:
    """The shard of the first watched or queued key (they all share it), None if none."""
    for key in watched:
        return key_shard(key, NSHARDS)
    for args in queued:
        keys = redis_keys(args) if _known(args) else []
        if keys:
            return key_shard(keys[0], NSHARDS)
    return None


def sharded_raft_status(network: Network) -> RaftStatus:
    """INFO's raft section over every raft group of a sharded store (blocking): role
    "leader" when every group that reports has a leader, else "none"; the highest term;
    each group's leader's name, comma-separated; the commit and applied indexes summed over
    the groups' leaders (each group has its own log), and so are the keys with a time to
    live (`expires`: each leader counts the shards it serves, as of its last status report).
    The key count is left to DBSIZE."""
    report = network.report(REPORT_TIMEOUT_S)
    if report is None:
        return RaftStatus("none", 0, "", 0, 0, 0, 0)
    groups: dict[int, list[Any]] = defaultdict(list)
    for blob in report.statuses.values():
        status = decode_status(blob)
        if status is not None:
            groups[status.node_id // 100].append(status)
    leaders = []
    for gid in sorted(groups):
        found = [s for s in groups[gid] if s.role == "LEADER"]
        if found:
            leaders.append(max(found, key=lambda s: s.term))
    term = max((s.term for members in groups.values() for s in members), default=0)
    role = "leader" if groups and len(leaders) == len(groups) else "none"
    names = ",".join(node_name_of(s.node_id) for s in leaders)
    commit = sum(s.commit for s in leaders)
    applied = sum(s.applied for s in leaders)
    expires = sum(int(s.app.get("expires", 0)) for s in leaders)
    return RaftStatus(role, term, names, commit, applied, 0, expires)


def open_sharded_backend(
    directory: Path, loop: asyncio.AbstractEventLoop
) -> tuple[ShardedClient, ShardedBackend]:
    """A client of the sharded store in `directory` and the backend over it (blocking).
    The client's own threads read its router connection, not `loop`: each call waits on a
    worker thread of its own."""
    client = connect_sharded(directory)
    status = sharded_raft_status
    return client, ShardedBackend(client, raft_status=lambda: status(client.network))
