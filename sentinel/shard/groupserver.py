"""A shard group on a node: `ShardGroupApp`, an `Application` over `ShardGroupMachine`.

RPCs ("ShardKV.<method>"): `Op(KVOp)` (gets and writes go through the group's log; a key
this group does not serve is answered "wrong group" at once), `Pull(PullArgs)` (answered
from the applied state: shards given away are frozen, so any replica's copy is final) and
`Delete(DeleteShards)` (through the log). The leader does groupwork.py's tasks every
`POLL_TICKS` ticks, sending its own requests through the node's endpoint and proposing what
the answers lead to. Options: "gid" (this group's id), "ctl" (the controller's node ids),
"maxraftstate".
"""

from __future__ import annotations

from typing import Any

from sentinel.netsim.endpoint import Failure, Reply
from sentinel.netsim.rpc import RpcCall
from sentinel.raft.app import NodeContext
from sentinel.raft.messages import Role
from sentinel.shard.config import key_shard, node_id_of
from sentinel.shard.group import (
    ERR_INVALID,
    ERR_WRONG_GROUP,
    DeleteShards,
    KVOp,
    KVOpReply,
    PullArgs,
    PullReply,
    ShardGroupMachine,
)
from sentinel.shard.groupwork import Task, follow_up, tasks
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
        """A client's get, put or append."""
        if type(op) is not KVOp or type(op.key) is not str or not op.key:
            return KVOpReply(ERR_INVALID, "Op takes a KVOp with a non-empty key")
        machine = self._app.machine
        if not machine.serves(key_shard(op.key, len(machine.config.shards))):
            return KVOpReply(ERR_WRONG_GROUP, leader=self._app.leader)
        return self._app.submit(op)

    def Pull(self, args: Any) -> Any:
        """Another group fetches the shards this one gives away."""
        if type(args) is not PullArgs:
            return PullReply(ERR_INVALID)
        return self._app.machine.pull(args)

    def Delete(self, args: Any) -> Any:
        """The receiver has the shards: drop this group's copy (through the log)."""
        if type(args) is not DeleteShards:
            return KVOpReply(ERR_INVALID, "Delete takes a DeleteShards")
        return self._app.submit(args)


class ShardGroupApp(ReplicatedApp):
    """One replica of a shard group (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = ShardGroupMachine(0)
        self.ctl_ids: tuple[int, ...] = ()
        self.outstanding: dict[int, tuple[int, Task]] = {}  # request id -> (tick, task)
        self.turn = 0
        self.is_leader = False

    def start(self, ctx: NodeContext) -> None:
        super().start(ctx)
        self.machine = ShardGroupMachine(int(ctx.options["gid"]))  # type: ignore[call-overload]
        self.ctl_ids = tuple(int(i) for i in ctx.options["ctl"])  # type: ignore[attr-defined]
        ctx.rpc.add_service(ShardKVService(self), SERVICE)

    def apply_data(self, index: int, data: bytes) -> Any:
        return self.machine.apply(index, data)

    def snapshot_data(self) -> bytes:
        return self.machine.snapshot()

    def restore_data(self, data: bytes) -> None:
        self.machine.restore(data, self.machine.applied_index)

    def restore(self, index: int, data: bytes) -> None:
        super().restore(index, data)
        self.machine.applied_index = index

    def error_reply(self, err: str, leader: int = 0) -> KVOpReply:
        return KVOpReply(err, leader=leader)

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
        endpoint = getattr(self.ctx, "endpoint", None)
        if endpoint is None:
            return  # a host without a network of its own (the simulator drives the work)
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
        return {"config_num": self.machine.config.num}
