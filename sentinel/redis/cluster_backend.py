"""The real backend: the Redis front door's data side, a client of the cluster through the router.

`ClusterBackend(client)` implements `sentinel.redis.backend.Backend` with the Python client's
Redis calls (`redis_async`, `redis_exec_async`, `redis_versions_async`), whose
`concurrent.futures.Future`s are bridged to the front door's event loop with
`asyncio.wrap_future`. The client follows the leader and retries under its exactly-once
sessions, so a leader kill is a short pause for a Redis client, not an error.

Every call has a deadline of `timeout_s` (CALL_TIMEOUT_S, 5 s, by default: longer than an
election and a few retries, shorter than a Redis client's usual socket timeout). When it
passes, the reply is an error whose code says what is known:

- `-TRYAGAIN ...`: a read (or WATCH) got no answer in time; nothing changed, retry it.
- `-UNKNOWN ...`: a write was sent but its outcome is unknown: it may have been applied (now
  or later, never twice). Read the key before retrying a write that is not idempotent.
- `-CLUSTERDOWN ...`: no leader accepted the write in time; it certainly did not apply.

Write order: the front door may have a whole pipeline of one connection's writes in flight at
once, and they must apply in order. Each connection gets a lane: at most one request of its
writes is in flight; the writes that arrive meanwhile wait and then leave together as one
EXEC-like log entry (`redis_exec_async` without watched keys), at most WRITE_BATCH_MAX
commands. A pipeline of writes thus costs one log entry per round trip, and stays in order.
Grouping writes is safe: the replies are per command and a group applies atomically, which
is one of the orders Redis itself could have produced. Reads go straight out (reads issued
together share one ReadIndex round in the client).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.kvraft.keyspace import COMMANDS, validate
from sentinel.kvraft.keyspace import replies as ks
from sentinel.kvraft.limits import InvalidRequest
from sentinel.redis.backend import Caller, RaftStatus, Version
from sentinel.redis.replies import NULL_ARRAY, BulkStrings, Error, Pairs

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 5.0
#: The most writes of one connection sent as one log entry.
WRITE_BATCH_MAX = 256
#: The most argument bytes of one grouped write entry (a big value goes alone).
WRITE_BATCH_BYTES_MAX = 1024 * 1024

TRYAGAIN = "TRYAGAIN the read's deadline passed without an answer from a leader; nothing changed"
UNKNOWN = "UNKNOWN the write's deadline passed; it may have been applied (never twice)"
CLUSTERDOWN = "CLUSTERDOWN no leader accepted the write in time; it was not applied"


class RedisClient(Protocol):
    """The calls of `sentinel.kvraft.client.Client` this backend uses."""

    def redis_async(self, args: Sequence[bytes], timeout_s: float = ...) -> Future[Any]: ...

    def redis_exec_async(
        self,
        commands: Sequence[Sequence[bytes]],
        watched: Mapping[bytes, int] | None,
        timeout_s: float = ...,
    ) -> Future[Any]: ...

    def redis_versions_async(
        self, keys: Sequence[bytes], timeout_s: float = ...
    ) -> Future[dict[bytes, int]]: ...


def to_reply(reply: Any) -> Any:
    """A keyspace reply (`sentinel.kvraft.keyspace.replies`) as the front door's plain value."""
    if isinstance(reply, ks.Bulk):
        return reply.data
    if isinstance(reply, ks.Int):
        return reply.value
    if isinstance(reply, (ks.Simple, ks.Error)):
        return reply  # the front door's own status and error types
    if isinstance(reply, ks.Null):
        return NULL_ARRAY if reply.array else None
    if isinstance(reply, ks.Array):
        return [to_reply(item) for item in reply.items]
    if isinstance(reply, ks.Double):
        return reply.value
    if isinstance(reply, ks.Map):
        return {to_reply(k): to_reply(v) for k, v in reply.pairs}
    if isinstance(reply, ks.Bulks):
        return BulkStrings(reply.items)
    if isinstance(reply, ks.Pairs):
        return Pairs(to_reply(item) for item in reply.items)
    raise TypeError(f"not a keyspace reply: {reply!r}")


def failure_reply(exc: BaseException, write: bool) -> Error:
    """The error reply for a call that raised `exc` (see the module docstring)."""
    if isinstance(exc, OutcomeUnknown):
        return Error(UNKNOWN)
    if isinstance(exc, Unavailable):
        return Error(CLUSTERDOWN if write else TRYAGAIN)
    if isinstance(exc, InvalidRequest):
        return Error(f"ERR {exc}")
    if isinstance(exc, TimeoutError):
        return Error(UNKNOWN if write else TRYAGAIN)
    log.error("redis backend call failed", exc_info=exc)
    return Error(f"CLUSTERDOWN the cluster client failed: {type(exc).__name__}")


def is_write(command: Sequence[bytes]) -> bool:
    """Whether `command` changes the keyspace (by the keyspace's command table)."""
    spec = COMMANDS.get(bytes(command[0]).upper())
    return spec is not None and spec.write


@dataclass
class _Write:
    """One queued write (a command, or a whole EXEC when `batch` is set)."""

    done: asyncio.Future[Any]
    command: list[bytes] | None = None
    batch: Sequence[list[bytes]] | None = None
    watched: dict[bytes, int] | None = None

    @property
    def size_bytes(self) -> int:
        return sum(map(len, self.command)) if self.command is not None else 0


@dataclass
class _Lane:
    """One connection's writes: those waiting, and whether one request is in flight."""

    waiting: deque[_Write] = field(default_factory=deque)
    busy: bool = False


class ClusterBackend:
    """The `Backend` over a cluster client (see the module docstring)."""

    def __init__(
        self,
        client: RedisClient,
        timeout_s: float = CALL_TIMEOUT_S,
        raft_status: Callable[[], RaftStatus] | None = None,
    ) -> None:
        """`raft_status()` (blocking; run in a worker thread) gives INFO's raft section."""
        self.client = client
        self.timeout_s = timeout_s
        self._raft_status = raft_status
        self._lanes: dict[int, _Lane] = {}

    async def execute(self, command: list[bytes], caller: Caller) -> Any:
        """A read goes straight out; a write joins its connection's lane."""
        invalid = validate(command)
        if invalid is not None:
            return to_reply(invalid)
        if not is_write(command):
            return await self._call(lambda: self.client.redis_async(command, self.timeout_s), False)
        return await self._enqueue(caller, command=command)

    async def execute_batch(
        self, commands: Sequence[list[bytes]], watched: dict[bytes, Version], caller: Caller
    ) -> list[Any] | None:
        """EXEC: one log entry after this connection's earlier writes."""
        versions = {key: int(version) for key, version in watched.items()}  # type: ignore[call-overload]
        return await self._enqueue(caller, batch=list(commands), watched=versions)

    async def watch(self, keys: Sequence[bytes], caller: Caller) -> list[Version] | Error:
        """The keys' versions, read from the leader; a TRYAGAIN error when they could not
        be read in time."""
        try:
            future = self.client.redis_versions_async(list(keys), self.timeout_s)
            versions = await asyncio.wrap_future(future)
        except Exception as exc:
            return failure_reply(exc, False)
        return [versions[key] for key in keys]

    async def status(self) -> RaftStatus:
        """INFO's raft and keyspace sections."""
        if self._raft_status is None:
            return RaftStatus("none", 0, "", 0, 0, 0, 0)
        raft = await asyncio.to_thread(self._raft_status)
        size = await self.execute([b"DBSIZE"], Caller(0, "info"))
        keys = size if isinstance(size, int) else raft.keys
        return RaftStatus(raft.role, raft.term, raft.leader, raft.commit_index,
                          raft.applied_index, keys, raft.expires)  # fmt: skip

    # -- writes in order -------------------------------------------------------------------

    async def _enqueue(self, caller: Caller, **what: Any) -> Any:
        lane = self._lanes.setdefault(caller.client_id, _Lane())
        write = _Write(asyncio.get_running_loop().create_future(), **what)
        lane.waiting.append(write)
        if not lane.busy:
            lane.busy = True
            asyncio.get_running_loop().call_soon(self._send_next, caller.client_id, lane)
        return await write.done

    def _send_next(self, client_id: int, lane: _Lane) -> None:
        """Send the next group of the lane's writes (after the current loop turn, so that a
        pipeline's writes read in one turn leave together)."""
        if not lane.waiting:
            lane.busy = False
            if self._lanes.get(client_id) is lane:
                del self._lanes[client_id]
            return
        group = [lane.waiting.popleft()]
        if group[0].batch is None:
            size = group[0].size_bytes
            while lane.waiting and len(group) < WRITE_BATCH_MAX and lane.waiting[0].batch is None:
                size += lane.waiting[0].size_bytes
                if size > WRITE_BATCH_BYTES_MAX:
                    break
                group.append(lane.waiting.popleft())
        task = asyncio.get_running_loop().create_task(self._send(group))
        task.add_done_callback(lambda _: self._send_next(client_id, lane))

    async def _send(self, group: list[_Write]) -> None:
        first = group[0]
        if first.batch is not None:
            batch, watched = first.batch, first.watched
            replies = await self._call(
                lambda: self.client.redis_exec_async(batch, watched or None, self.timeout_s), True
            )
            if isinstance(replies, list):
                replies = [to_reply(r) for r in replies]
            _settle(first, replies)
            return
        if len(group) == 1:
            command = first.command
            assert command is not None
            _settle(
                first,
                await self._call(lambda: self.client.redis_async(command, self.timeout_s), True),
            )
            return
        commands = [w.command for w in group]
        replies = await self._call(
            lambda: self.client.redis_exec_async(commands, None, self.timeout_s), True
        )
        for index, write in enumerate(group):
            if isinstance(replies, list) and len(replies) == len(group):
                _settle(write, to_reply(replies[index]))
            else:
                _settle(write, replies if isinstance(replies, Error) else Error(UNKNOWN))

    async def _call(self, start: Callable[[], Future[Any]], write: bool) -> Any:
        """Start a client call and await it: its reply converted, or the error reply."""
        try:
            reply = await asyncio.wrap_future(start())  # QueueFull/ClientClosed raise at start
        except Exception as exc:
            return failure_reply(exc, write)
        if reply is None or isinstance(reply, list):
            return reply  # an EXEC's replies (converted by the caller) or its WATCH abort
        return to_reply(reply)


def _settle(write: _Write, reply: Any) -> None:
    if not write.done.done():
        write.done.set_result(reply)
