"""What a shard group's leader does on its own, sans I/O: `tasks(machine)` lists the calls
to make now (ask the controller for the next configuration, pull shards from their previous
owners, tell sources to delete shards that arrived) and `follow_up(machine, task, reply)`
turns an answer into the command to propose, if any; `purges(machine, now_ms)` are the
entries that delete the expired keys of each shard served (kvraft's Purge, per shard).

Stateless on purpose: the leader recomputes the tasks from its applied state every poll
(6.824: ~100 ms), so a lost call, a lost proposal or a new leader just means the next poll
asks again; every command they lead to is ignored by the state machine when it is stale.
"""

from __future__ import annotations

from typing import NamedTuple

from sentinel.kvraft.codec import encode_command, stamp_entry
from sentinel.kvraft.commands import Purge
from sentinel.kvraft.logclock import PURGE_BATCH_KEYS_MAX
from sentinel.shard.ctl import CtlQuery, CtlReply
from sentinel.shard.group import (
    GCING,
    OK,
    PULLING,
    DeleteShards,
    InsertShards,
    InstallConfig,
    PullArgs,
    PullReply,
    ShardEntry,
    ShardGroupMachine,
    ShardReply,
    ShardsGone,
)

QUERY, PULL, DELETE = "ShardCtl.Query", "ShardKV.Pull", "ShardKV.Delete"


class Task(NamedTuple):
    """An RPC to make: `method` to a server of group `gid` (0: the controller)."""

    method: str
    gid: int
    args: CtlQuery | PullArgs | DeleteShards
    servers: tuple[str, ...]


def _by_source(machine: ShardGroupMachine, shards: tuple[int, ...]) -> dict[int, tuple[int, ...]]:
    out: dict[int, list[int]] = {}
    for shard in shards:
        out.setdefault(machine.prev.shards[shard], []).append(shard)
    return {gid: tuple(found) for gid, found in sorted(out.items())}


def tasks(machine: ShardGroupMachine) -> list[Task]:
    """The calls a leader makes now, from its applied state."""
    out: list[Task] = []
    num = machine.config.num
    if machine.steady():
        out.append(Task(QUERY, 0, CtlQuery(num + 1), ()))
    for gid, shards in _by_source(machine, machine.shards_in(PULLING)).items():
        out.append(Task(PULL, gid, PullArgs(num, shards), machine.prev.servers(gid)))
    for gid, shards in _by_source(machine, machine.shards_in(GCING)).items():
        out.append(Task(DELETE, gid, DeleteShards(num, shards), machine.prev.servers(gid)))
    return out


def follow_up(machine: ShardGroupMachine, task: Task, reply: object) -> object | None:
    """The command to propose after `task` got `reply` (None: nothing)."""
    num = machine.config.num
    if task.method == QUERY:
        config = reply.config if isinstance(reply, CtlReply) and reply.err == OK else None
        return InstallConfig(config) if config is not None and config.num == num + 1 else None
    if task.method == PULL:
        if isinstance(reply, PullReply) and reply.err == OK and reply.num == num and reply.shards:
            return InsertShards(num, reply.shards)
        return None
    assert isinstance(task.args, DeleteShards)
    if isinstance(reply, ShardReply) and reply.err == OK and task.args.num == num:
        return ShardsGone(num, task.args.shards)
    return None


def purges(machine: ShardGroupMachine, now_ms: int) -> list[ShardEntry]:
    """For each shard served with keys expired at `now_ms`, the entry (stamped `now_ms`)
    that deletes at most PURGE_BATCH_KEYS_MAX of them: memory comes back on every replica,
    and a repeated purge changes nothing."""
    out = []
    for shard in sorted(machine.kv):
        if machine.serves(shard):
            keys = machine.kv[shard].expired_keys(now_ms, PURGE_BATCH_KEYS_MAX)
            if keys:
                command = encode_command(Purge(tuple(keys)))
                out.append(ShardEntry(shard, stamp_entry(now_ms, command)))
    return out
