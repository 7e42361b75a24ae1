"""`ShardClerk`: a blocking client of the sharded store that routes each key to the group
owning its shard (6.824 shardkv's Clerk).

It caches the latest configuration; a "wrong group" answer, or a full round of the group's
servers without an answer, makes it ask the controller again. Writes carry the clerk's
random client id and a seq, retried unchanged until answered, so each applies once (the
groups move the exactly-once tables with the shards). One call at a time per clerk.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from sentinel.netsim.rpc import Caller
from sentinel.shard.config import node_id_of
from sentinel.shard.ctlclient import ROUND_PAUSE_S, CtlClerk
from sentinel.shard.group import ERR_INVALID, ERR_WRONG_GROUP, OK, KVOp, KVOpReply


class ShardError(RuntimeError):
    """A request was refused as invalid, or not answered within the clerk's deadline."""


class ShardClerk:
    """Get, Put and Append against the groups; `ctl_ids` are the controller's node ids."""

    def __init__(
        self, caller: Caller, ctl_ids: Sequence[int], rpc_timeout_s: float = 0.5,
        deadline_s: float = 45.0,
    ) -> None:  # fmt: skip
        self._caller = caller
        self._ctl = CtlClerk(caller, ctl_ids, rpc_timeout_s, deadline_s)
        self._rpc_timeout_s = rpc_timeout_s
        self._deadline_s = deadline_s
        self._lock = threading.Lock()
        self.client_id = int.from_bytes(os.urandom(7), "little") + 1
        self._seq = 0
        self.config = self._ctl.query(-1)

    def get(self, key: str) -> str:
        """The value of `key` ("" when absent)."""
        with self._lock:
            return self._call(KVOp("get", key)).value

    def put(self, key: str, value: str) -> None:
        self._write("put", key, value)

    def append(self, key: str, value: str) -> None:
        self._write("append", key, value)

    def _write(self, kind: str, key: str, value: str) -> None:
        with self._lock:
            self._seq += 1
            self._call(KVOp(kind, key, value, self.client_id, self._seq))

    def _call(self, op: KVOp) -> KVOpReply:
        deadline = time.monotonic() + self._deadline_s
        while time.monotonic() < deadline:
            gid = self.config.owner(op.key)
            for name in self.config.servers(gid):
                reply = self._caller.call(node_id_of(name), "ShardKV.Op", op, self._rpc_timeout_s)
                value = None if reply is None else reply.value
                if not isinstance(value, KVOpReply):
                    continue
                if value.err == OK:
                    return value
                if value.err == ERR_INVALID:
                    raise ShardError(f"invalid request: {value.value}")
                if value.err == ERR_WRONG_GROUP:
                    break
            time.sleep(ROUND_PAUSE_S)
            self.config = self._ctl.query(-1)
        raise ShardError(f"no group answered {op.kind} {op.key!r} within {self._deadline_s} s")
