"""`ShardClerk`: a blocking client of the sharded store that routes each command to the
group owning its keys' shard (6.824 shardkv's Clerk, with kvraft's commands and sessions).

It caches the latest configuration; a "wrong group" answer, or a full round of the group's
servers without an answer, makes it ask the controller again. Sessions are per shard (each
shard is one kvraft state machine, group.py): before its first write to a shard the clerk
opens a session there (a Register through that shard's group), then numbers its writes to
that shard 1, 2, 3..., retrying each unchanged until answered, so each applies once (the
session moves with the shard). A command whose keys span shards is refused before anything
is sent (ShardKeyError: Redis's CROSSSLOT); a shard-wide command (keys.py: DBSIZE, KEYS...)
runs on the shard the caller names (`redis(args, shard)`). Errors are the kv client's (errors.py):
InvalidRequest, OutcomeUnknown (a write sent without a definite answer by the deadline, or
whose session expired), Unavailable (nothing changed). One call at a time per clerk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import (
    Append,
    Command,
    Delete,
    Get,
    Put,
    RedisExec,
    RedisWrite,
    Register,
)
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.kvraft.keyspace import Error, Reply
from sentinel.kvraft.limits import InvalidRequest
from sentinel.kvraft.redisreq import (
    exec_call,
    reads_call,
    redis_answer,
    redis_call,
    versions_call,
)
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.rpc import Caller
from sentinel.shard.config import node_id_of
from sentinel.shard.ctlclient import ROUND_PAUSE_S, CtlClerk
from sentinel.shard.group import ERR_INVALID, ERR_WRONG_GROUP, OK, ShardOp, ShardReply
from sentinel.shard.keys import NO_KEY_ERROR, ShardKeyError, command_shard

#: Sessions one clerk keeps (one per shard it has written to).
SESSIONS_PER_CLERK_MAX = 4096


class ShardClerk:
    """Commands against the groups; `ctl_ids` are the controller's node ids."""

    def __init__(
        self, caller: Caller, ctl_ids: Sequence[int], rpc_timeout_s: float = 0.5,
        deadline_s: float = 45.0,
    ) -> None:  # fmt: skip
        self._caller = caller
        self._ctl = CtlClerk(caller, ctl_ids, rpc_timeout_s, deadline_s)
        self._rpc_timeout_s = rpc_timeout_s
        self.deadline_s = deadline_s
        self._lock = threading.Lock()
        self._sessions: dict[int, list[int]] = {}  # shard -> [client id, last seq]
        self.config = self._ctl.query(-1)

    def shard_of(self, command: Command, shard: int | None = None) -> int:
        """The shard `command` runs on: its keys', or `shard` for a command that names
        none (ShardKeyError: CROSSSLOT, or no key and no `shard`)."""
        home = command_shard(command, len(self.config.shards))
        if home is not None:
            return home
        if shard is None or not 0 <= shard < len(self.config.shards):
            raise ShardKeyError(NO_KEY_ERROR)
        return shard

    # -- the str API (6.824's Get, Put, Append) ------------------------------------------

    def get(self, key: str) -> str:
        """The value of `key` ("" when absent)."""
        return self.run(Get(key)).value or ""

    def put(self, key: str, value: str) -> Result:
        return self.write(lambda cid, seq: Put(key, value, cid, seq))

    def append(self, key: str, value: str) -> Result:
        """Append to the value of `key`; the Result (VALUE_TOO_LARGE: nothing changed)."""
        return self.write(lambda cid, seq: Append(key, value, cid, seq))

    def delete(self, key: str) -> bool:
        """Remove `key`; whether it was there."""
        return self.write(lambda cid, seq: Delete(key, cid, seq)).code is ResultCode.OK

    # -- Redis commands ------------------------------------------------------------------

    def redis(self, args: Sequence[bytes], shard: int | None = None) -> Reply:
        """One Redis command on the shard of its keys, or on `shard` for a shard-wide one
        (an Error reply for what Redis refuses, CROSSSLOT included)."""
        call = redis_call(args)
        if isinstance(call, Error):
            return call
        return self._redis(*call, shard=shard)

    def redis_exec(
        self, commands: Sequence[Sequence[bytes]], watched: Mapping[bytes, int] | None = None
    ) -> list[Reply] | Error | None:
        """A MULTI/EXEC block on one shard (None: a watched key changed)."""
        call = exec_call(commands, watched)
        if isinstance(call, Error):
            return call
        return self._redis(*call)  # type: ignore[no-any-return]

    def redis_reads(self, commands: Sequence[Sequence[bytes]]) -> list[Reply] | Error:
        """Several read commands on one shard at one read point: their replies."""
        call = reads_call(commands)
        if isinstance(call, Error):
            return call
        return self._redis(*call)  # type: ignore[no-any-return]

    def redis_versions(self, keys: Sequence[bytes]) -> dict[bytes, int] | Error:
        """WATCH's versions of `keys` (all in one shard)."""
        return self._redis(*versions_call(keys))  # type: ignore[no-any-return]

    def _redis(self, kind: type, fields: tuple, shard: int | None = None) -> Any:
        try:
            if kind is RedisWrite or kind is RedisExec:
                result = self.write(lambda cid, seq: kind(*fields, cid, seq), shard)
            else:
                result = self.run(kind(*fields), shard)
        except ShardKeyError as exc:
            return Error(str(exc))
        if result.code is not ResultCode.OK:
            return Error(f"ERR {result.code.name.lower()}: {result.detail}")
        return redis_answer(kind, fields, result.value)

    # -- plumbing ------------------------------------------------------------------------

    def run(self, command: Command, shard: int | None = None) -> Result:
        """A command without a session (a read) on its shard (`shard` if it names no
        key); its Result."""
        with self._lock:
            return self._call(self.shard_of(command, shard), encode_command(command), False)

    def write(self, make: Any, shard: int | None = None) -> Result:
        """The write `make(client_id, seq)` under this clerk's session on its shard
        (`shard` if it names no key)."""
        with self._lock:
            shard = self.shard_of(make(1, 1), shard)
            session = self._sessions.get(shard)
            if session is None:
                if len(self._sessions) >= SESSIONS_PER_CLERK_MAX:
                    self._sessions.clear()
                opened = self._call(shard, encode_command(Register()), False)
                session = self._sessions[shard] = [opened.client_id, 0]
            session[1] += 1
            result = self._call(shard, encode_command(make(session[0], session[1])), True)
            if result.code is ResultCode.SESSION_EXPIRED:
                del self._sessions[shard]
                raise OutcomeUnknown(f"the session on shard {shard} expired: {result.detail}")
            return result

    def _call(self, shard: int, command: bytes, write: bool) -> Result:
        """Send until a group answers; past the deadline OutcomeUnknown (a `write` that was
        sent) or Unavailable (nothing changed)."""
        op = ShardOp(shard, command)
        sent = False
        deadline = time.monotonic() + self.deadline_s
        while time.monotonic() < deadline:
            gid = self.config.shards[shard]
            for name in self.config.servers(gid):
                sent = True
                reply = self._caller.call(node_id_of(name), "ShardKV.Op", op, self._rpc_timeout_s)
                value = None if reply is None else reply.value
                if not isinstance(value, ShardReply):
                    continue
                if value.err == OK and value.result is not None:
                    return value.result
                if value.err == ERR_INVALID:
                    raise InvalidRequest(value.detail)
                if value.err == ERR_WRONG_GROUP:
                    break
            time.sleep(ROUND_PAUSE_S)
            self.config = self._ctl.query(-1)
        what = f"no group answered on shard {shard} within {self.deadline_s} s"
        raise OutcomeUnknown(what) if write and sent else Unavailable(what)
