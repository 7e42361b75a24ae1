"""The shard controller on a node: `ShardCtlApp`, an `Application` over `ShardCtlMachine`.

Clients call "ShardCtl.Change" with a `CtlRegister`, `CtlJoin`, `CtlLeave` or `CtlMove`
(proposed through the log, answered when applied) and "ShardCtl.Query" with a `CtlQuery`
(answered at a ReadIndex point). Each answer is a `CtlReply`. A node runs it when its spec
names `CTL_APP` (host/nodespec.py: `NodeSpec.app`).
"""

from __future__ import annotations

from typing import Any

from sentinel.raft.app import NodeContext
from sentinel.shard.config import ConfigError
from sentinel.shard.ctl import (
    ERR_INVALID,
    CtlQuery,
    CtlRegister,
    CtlReply,
    ShardCtlMachine,
    check_change,
)
from sentinel.shard.replicated import ReplicatedApp

#: The factory a NodeSpec names to run the controller.
CTL_APP = "sentinel.shard.ctlserver:ShardCtlApp"
SERVICE = "ShardCtl"


class ShardCtlService:
    """The controller's RPC methods ("ShardCtl.Change", "ShardCtl.Query")."""

    def __init__(self, app: ShardCtlApp) -> None:
        self._app = app

    def Change(self, command: Any) -> Any:
        """Register or change the configuration; a bad command is refused before the log."""
        if type(command) is not CtlRegister:
            try:
                check_change(command)
            except ConfigError as exc:
                return CtlReply(ERR_INVALID, detail=str(exc))
        return self._app.submit(command)

    def Query(self, query: Any) -> Any:
        """A configuration, linearizably."""
        if type(query) is not CtlQuery or type(query.num) is not int:
            return CtlReply(ERR_INVALID, detail="Query takes a CtlQuery(num: int)")
        return self._app.read(query)


class ShardCtlApp(ReplicatedApp):
    """The controller's state machine behind the request plumbing of `ReplicatedApp`."""

    def __init__(self) -> None:
        super().__init__()
        self.machine = ShardCtlMachine()

    def start(self, ctx: NodeContext) -> None:
        super().start(ctx)
        ctx.rpc.add_service(ShardCtlService(self), SERVICE)

    def apply_data(self, index: int, data: bytes) -> CtlReply:
        return self.machine.apply(index, data)

    def answer_read(self, request: CtlQuery) -> CtlReply:
        return CtlReply(config=self.machine.query(request.num), leader=self.leader)

    def snapshot_data(self) -> bytes:
        return self.machine.snapshot()

    def restore_data(self, data: bytes) -> None:
        self.machine.restore(data)

    def error_reply(self, err: str, leader: int = 0) -> CtlReply:
        return CtlReply(err, leader=leader)

    def status(self) -> dict[str, int]:
        """For the dashboard: the latest configuration's number and shard map."""
        latest = self.machine.latest()
        out = {"config_num": latest.num, "ctl": 1}
        out.update({f"shard{i}": gid for i, gid in enumerate(latest.shards)})
        return out
