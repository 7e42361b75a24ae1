"""A shard group on a node: `ShardGroupApp`, an `Application` over `ShardGroupMachine`.

RPCs ("ShardKV.<method>"): `Op(ShardOp)` (a kv command for one shard: writes and
Registers go through the group's log, stamped with the leader's log time as kvraft's
server stamps them; reads (Get, Redis reads, WATCH's versions) are answered at a ReadIndex
point; a shard this group does not serve is answered "wrong group" at once, a command
whose keys span shards "invalid" with Redis's CROSSSLOT error), `Pull(PullArgs)` (answered
from the applied state: shards given away are frozen, so any replica's copy is final) and
`Delete(DeleteShards)` (through the log). The leader does groupwork.py's tasks every
`POLL_TICKS` ticks, sending its own requests through the node's endpoint and proposing what
the answers lead to, and proposes the purges of expired keys (groupwork.purges).
Options: "gid" (this group's id), "ctl" (the controller's node ids),
"maxraftstate".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from sentinel.kvraft.codec import CommandError, decode_command, stamp_entry
from sentinel.kvraft.commands import Get, RedisRead, RedisReads, RedisVersions
from sentinel.kvraft.limits import InvalidRequest
from sentinel.kvraft.logclock import wall_ms
from sentinel.kvraft.protocol import check_entry_size, check_redis
from sentinel.netsim.endpoint import Failure, Reply
from sentinel.netsim.rpc import RpcCall
from sentinel.raft.app import NodeContext
from sentinel.raft.messages import Role
from sentinel.shard.config import node_id_of
from sentinel.shard.group import (
    BEPULLED,
    ERR_INVALID,
    GCING,
    PULLING,
    SERVING,
    DeleteShards,
    PullArgs,
    PullReply,
    ShardEntry,
    ShardGroupMachine,
    ShardOp,
    ShardReply,
)
from sentinel.shard.groupwork import Task, follow_up, purges, tasks
from sentinel.shard.replicated import ReplicatedApp

GROUP_APP = "sentinel.shard.groupserver:ShardGroupApp"
SERVICE = "ShardKV"
#: The leader's work runs every this many ticks (6.824: every 100 ms).
POLL_TICKS = 10
#: Requests of the leader's own awaiting an answer; older than a poll they are forgotten.
OUTSTANDING_MAX = 256


class ShardKVService:
    """The group's RPC methods."""

    def __init__(self, app: ShardGroupApp) -> None:
        self._app = app

    def Op(self, op: Any) -> Any:
        """A client's kv command for one shard."""
        if type(op) is not ShardOp or type(op.shard) is not int or type(op.command) is not bytes:
            return ShardReply(ERR_INVALID, detail="Op takes a ShardOp (shard, command bytes)")
        try:
            command = check_redis(decode_command(op.command))
        except (CommandError, InvalidRequest) as exc:
            return ShardReply(ERR_INVALID, detail=str(exc))
        app = self._app
        refused = app.machine.check(op.shard, command)  # type: ignore[arg-type]
        if refused is not None:  # a frozen message: the hint goes on a copy
            return dataclasses.replace(refused, leader=app.leader)
        if type(command) in _READS:
            return app.read((op.shard, command))
        try:
            entry = check_entry_size(stamp_entry(app.stamp_ms(), op.command))
        except InvalidRequest as exc:
            return ShardReply(ERR_INVALID, detail=str(exc))
        return app.submit(ShardEntry(op.shard, entry))

    def Pull(self, args: Any) -> Any:
        """Another group fetches the shards this one gives away."""
        if type(args) is not PullArgs:
            return PullReply(ERR_INVALID)
        return self._app.machine.pull(args)

    def Delete(self, args: Any) -> Any:
        """The receiver has the shards: drop this group's copy (through the log)."""
        if type(args) is not DeleteShards:
            return ShardReply(ERR_INVALID, detail="Delete takes a DeleteShards")
        return self._app.submit(args)


_READS = (Get, RedisRead, RedisReads, RedisVersions)


class ShardGroupApp(ReplicatedApp):
    """One replica of a shard group (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = ShardGroupMachine(0)
        self.ctl_ids: tuple[int, ...] = ()
        self.outstanding: dict[int, tuple[int, Task]] = {}  # request id -> (tick, task)
        self.turn = 0
        self.is_leader = False
        self.last_stamp_ms = 0
        #: The wall clock (ms) that stamps entries and dates reads; the simulator puts it
        #: on virtual time so that a seed replays to the same log bytes.
        self.wall_ms: Callable[[], int] = wall_ms

    def start(self, ctx: NodeContext) -> None:
        super().start(ctx)
        self.machine = ShardGroupMachine(int(ctx.options["gid"]))  # type: ignore[call-overload]
        self.ctl_ids = tuple(int(i) for i in ctx.options["ctl"])  # type: ignore[attr-defined]
        ctx.rpc.add_service(ShardKVService(self), SERVICE)

    def apply_data(self, index: int, data: bytes) -> Any:
        return self.machine.apply(index, data)

    def answer_read(self, request: Any) -> ShardReply:
        shard, command = request
        return self.machine.read(shard, command, self.wall_ms())

    def stamp_ms(self) -> int:
        """A new entry's log time: the wall clock, never below an earlier stamp (this
        node's or any applied), as kvraft's LogClock stamps."""
        stamp = max(self.wall_ms(), self.last_stamp_ms, self.machine.last_stamp_ms())
        self.last_stamp_ms = stamp
        return stamp

    def snapshot_data(self) -> bytes:
        return self.machine.snapshot()

    def restore_data(self, data: bytes) -> None:
        self.machine.restore(data, self.machine.applied_index)

    def restore(self, index: int, data: bytes) -> None:
        super().restore(index, data)
        self.machine.applied_index = index

    def error_reply(self, err: str, leader: int = 0) -> ShardReply:
        return ShardReply(err, leader=leader)

    def role_changed(self, role: Role, term: int, leader: int) -> None:
        super().role_changed(role, term, leader)
        self.is_leader = role is Role.LEADER

    def on_tick(self) -> None:
        super().on_tick()
        if not self.is_leader or self.ticks % POLL_TICKS:
            return
        stale = [
            rid for rid, (tick, _) in self.outstanding.items() if tick < self.ticks - POLL_TICKS
        ]
        for rid in stale:
            del self.outstanding[rid]
        for entry in purges(self.machine, self.stamp_ms()):
            self.submit(entry)
        endpoint = getattr(self.ctx, "endpoint", None)
        if endpoint is None:
            return  # a host without a network to other groups
        for task in tasks(self.machine):
            if len(self.outstanding) >= OUTSTANDING_MAX:
                break
            self.turn += 1
            if task.gid == 0:
                dst = self.ctl_ids[self.turn % len(self.ctl_ids)]
            else:
                dst = node_id_of(task.servers[self.turn % len(task.servers)])
            rid = endpoint.request(dst, RpcCall(task.method, task.args))
            self.outstanding[rid] = (self.ticks, task)

    def on_message(self, src: int, obj: object) -> None:
        if isinstance(obj, Failure):
            self.outstanding.pop(obj.request_id, None)
        elif isinstance(obj, Reply):
            waiting = self.outstanding.pop(obj.request_id, None)
            if waiting is not None and self.is_leader:
                command = follow_up(self.machine, waiting[1], getattr(obj.obj, "value", None))
                if command is not None:
                    self.submit(command)

    def status(self) -> dict[str, int]:
        """For the dashboard and INFO: the applied configuration, the keys held, the keys
        with a time to live in the shards served (so a shard in flight counts in one group
        only: INFO's `expires`) and the shards by state (bit i: shard i)."""
        machine = self.machine
        served = [kv for shard, kv in machine.kv.items() if machine.serves(shard)]
        out = {"config_num": machine.config.num, "gid": machine.gid,
               "keys": sum(len(m.keyspace) for m in machine.kv.values()),
               "expires": sum(m.keyspace.expiring() for m in served)}  # fmt: skip
        for state in (SERVING, PULLING, BEPULLED, GCING):
            out[state] = sum(1 << s for s in self.machine.shards_in(state))
        return out
