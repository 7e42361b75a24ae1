"""`CtlClerk`: a blocking client of the shard controller (6.824's shardctrler Clerk).

It opens a session on first use and numbers its changes 1, 2, 3, ...; a change is retried
with the same (client id, seq) until some server answers it, so it applies exactly once. It
starts at the server that answered last, moves on after no answer, "wrong leader" (to the
named leader if any) or "retry", and pauses briefly after a full round without an answer.
Thread-safe: one call at a time per clerk (a lock), as a session's changes must be ordered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sentinel.netsim.rpc import Caller
from sentinel.shard.config import ShardConfig, validate_groups
from sentinel.shard.ctl import (
    ERR_INVALID,
    ERR_RETRY,
    ERR_WRONG_LEADER,
    OK,
    CtlJoin,
    CtlLeave,
    CtlMove,
    CtlQuery,
    CtlRegister,
    CtlReply,
)
from sentinel.shard.ctlserver import SERVICE

#: Pause after a full round of servers without an answer (an election may be running).
ROUND_PAUSE_S = 0.05


class CtlError(RuntimeError):
    """The controller refused a change (the message says why), or no answer came in time."""


class CtlClerk:
    """Join, Leave, Move and Query against the controller servers `servers` (node ids)."""

    def __init__(
        self, caller: Caller, servers: Sequence[int], rpc_timeout_s: float = 0.5,
        deadline_s: float = 30.0,
    ) -> None:  # fmt: skip
        assert servers, "a clerk needs at least one controller server"
        self._caller = caller
        self._servers = tuple(servers)
        self._rpc_timeout_s = rpc_timeout_s
        self._deadline_s = deadline_s
        self._lock = threading.Lock()
        self._last = 0  # index into servers of the one that answered last
        self.client_id = 0
        self._seq = 0

    def query(self, num: int = -1) -> ShardConfig:
        """Configuration `num` (-1 or past the end: the latest)."""
        with self._lock:
            reply = self._call("Query", CtlQuery(num))
        assert reply.config is not None
        return reply.config

    def join(self, groups: Mapping[int, Sequence[str]]) -> ShardConfig:
        """Add groups (gid -> server names); the configuration it made."""
        return self._change(lambda cid, seq: CtlJoin(validate_groups(groups), cid, seq))

    def leave(self, gids: Sequence[int]) -> ShardConfig:
        """Remove groups."""
        return self._change(lambda cid, seq: CtlLeave(tuple(gids), cid, seq))

    def move(self, shard: int, gid: int) -> ShardConfig:
        """Give `shard` to group `gid`."""
        return self._change(lambda cid, seq: CtlMove(shard, gid, cid, seq))

    def _change(self, make: Any) -> ShardConfig:
        with self._lock:
            if not self.client_id:
                self.client_id = self._call("Change", CtlRegister()).client_id
            self._seq += 1
            reply = self._call("Change", make(self.client_id, self._seq))
        if reply.config is None:
            raise CtlError(f"no configuration in the controller's answer: {reply}")
        return reply.config

    def _call(self, method: str, args: Any) -> CtlReply:
        deadline = time.monotonic() + self._deadline_s
        n = len(self._servers)
        last_reason = "no answer"
        while time.monotonic() < deadline:
            for step in range(n):
                i = (self._last + step) % n
                reply = self._caller.call(
                    self._servers[i], f"{SERVICE}.{method}", args, self._rpc_timeout_s
                )
                if reply is None:
                    continue
                value = reply.value
                if reply.error is not None or not isinstance(value, CtlReply):
                    raise CtlError(f"controller error: {reply.error or value!r}")
                if value.err == OK:
                    self._last = i
                    return value
                if value.err.startswith(ERR_INVALID):
                    raise CtlError(f"{value.err}: {value.detail}")
                if value.err not in (ERR_WRONG_LEADER, ERR_RETRY):
                    raise CtlError(f"{value.err}: {value.detail}")
                last_reason = value.err
            time.sleep(ROUND_PAUSE_S)
        raise CtlError(f"the controller did not answer within {self._deadline_s} s ({last_reason})")
