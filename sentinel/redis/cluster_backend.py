"""The real backend: the Redis front door's data side, a client of the cluster through the router.

`ClusterBackend(client)` implements `sentinel.redis.backend.Backend` with the Python client's
Redis calls (`redis_async`, `redis_exec_async`, `redis_versions_async`), started and answered
through a `Bridge` (bridge.py): the calls of one event-loop turn leave together, so the reads
of a pipeline or burst share one request and one ReadIndex round, and their answers come back
to the loop in one wake-up. The client follows the leader and retries under its exactly-once
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
is one of the orders Redis itself could have produced. The groups of many connections that
leave in one turn share one request (and, at the leader, one log entry).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from sentinel.kvraft.errors import OutcomeUnknown, Unavailable
from sentinel.kvraft.keyspace import COMMANDS, validate
from sentinel.kvraft.keyspace import replies as ks
from sentinel.kvraft.limits import InvalidRequest
from sentinel.redis.backend import Caller, Pending, RaftStatus, Version
from sentinel.redis.bridge import Bridge
from sentinel.redis.replies import NULL_ARRAY, BulkStrings, Error, Pairs, ReplySet

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 5.0
#: The most writes of one connection sent as one log entry.
WRITE_BATCH_MAX = 256
#: The most reads sent as one call (at one read point).
READ_BATCH_MAX = 256
#: The most argument bytes of one grouped write entry or read call (a big value goes alone).
BATCH_BYTES_MAX = 1024 * 1024

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

    def redis_reads_async(
        self, commands: Sequence[Sequence[bytes]], timeout_s: float = ...
    ) -> Future[Any]: ...

    def redis_versions_async(
        self, keys: Sequence[bytes], timeout_s: float = ...
    ) -> Future[dict[bytes, int]]: ...

    def run_together(self, fn: Callable[[], None]) -> None: ...


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
        return ReplySet(reply.items) if reply.members else BulkStrings(reply.items)
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


@dataclass(slots=True)
class _Write:
    """One queued write (a command, or a whole EXEC when `batch` is set)."""

    done: Pending
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
        self._reads: list[tuple[list[bytes], Pending]] = []  # this turn's
        self.bridge = Bridge(client)

    def together(self, start: Callable[[], None]) -> None:
        """Start the calls `start()` makes when it returns (see `Backend.together`)."""
        self.bridge.together(start)

    def execute(self, command: list[bytes], caller: Caller) -> Pending:
        """A read goes out with this turn's other calls; a write joins its connection's lane.
        The command is validated once: by the client when it goes alone, here when it
        would share a call with others (a refused one must not fail its group)."""
        if not is_write(command):
            done = Pending()
            if not self._reads:
                self.bridge.gather(self._send_reads)
            self._reads.append((command, done))
            return done
        return self._enqueue(caller, command=command)

    def execute_batch(
        self, commands: Sequence[list[bytes]], watched: dict[bytes, Version], caller: Caller
    ) -> Pending:
        """EXEC: one log entry after this connection's earlier writes."""
        versions = {key: int(version) for key, version in watched.items()}  # type: ignore[call-overload]
        return self._enqueue(caller, batch=list(commands), watched=versions)

    def watch(self, keys: Sequence[bytes], caller: Caller) -> Pending:
        """The keys' versions, read from the leader; a TRYAGAIN error when they could not
        be read in time."""
        keys = list(keys)
        done = Pending()

        def on_done(future: Future[Any]) -> None:
            reply = _answer(future, False, raw=True)
            done.set([reply[key] for key in keys] if isinstance(reply, dict) else reply)

        self.bridge.call(lambda: self.client.redis_versions_async(keys, self.timeout_s), on_done)
        return done

    async def status(self) -> RaftStatus:
        """INFO's raft and keyspace sections."""
        if self._raft_status is None:
            return RaftStatus("none", 0, "", 0, 0, 0, 0)
        raft = await asyncio.to_thread(self._raft_status)
        size = await self.execute([b"DBSIZE"], Caller(0, "info"))
        keys = size if isinstance(size, int) else raft.keys
        return RaftStatus(raft.role, raft.term, raft.leader, raft.commit_index,
                          raft.applied_index, keys, raft.expires)  # fmt: skip

    def refuse_queued(
        self, queued: Sequence[list[bytes]], args: list[bytes], watched: Collection[bytes]
    ) -> Error | None:
        """Nothing is refused at queue time: one raft group holds every key."""
        return None

    def _send_reads(self) -> None:
        """This turn's reads, of every connection, as few calls at one read point each."""
        reads, self._reads = self._reads, []
        if len(reads) > 1:
            reads = [read for read in reads if _valid(*read)]
        start = 0
        while start < len(reads):
            end, size = start + 1, sum(map(len, reads[start][0]))
            while end < len(reads) and end - start < READ_BATCH_MAX:
                size += sum(map(len, reads[end][0]))
                if size > BATCH_BYTES_MAX:
                    break
                end += 1
            self._send_read_group(reads[start:end])
            start = end

    def _send_read_group(self, group: list[tuple[list[bytes], Pending]]) -> None:
        client, timeout_s = self.client, self.timeout_s
        if len(group) == 1:
            command, done = group[0]
            self.bridge.call(
                lambda: client.redis_async(command, timeout_s),
                lambda future: done.set(_answer(future, False)),
            )
            return
        commands = [command for command, _done in group]

        def on_done(future: Future[Any]) -> None:
            replies = _answer(future, False)
            for index, (_command, done) in enumerate(group):
                if isinstance(replies, list) and len(replies) == len(group):
                    done.set(to_reply(replies[index]))
                else:
                    done.set(replies if isinstance(replies, Error) else Error(TRYAGAIN))

        self.bridge.call(lambda: client.redis_reads_async(commands, timeout_s), on_done)

    # -- writes in order -------------------------------------------------------------------

    def _enqueue(self, caller: Caller, **what: Any) -> Pending:
        lane = self._lanes.get(caller.client_id)
        if lane is None:
            lane = self._lanes[caller.client_id] = _Lane()
        write = _Write(Pending(), **what)
        lane.waiting.append(write)
        if not lane.busy:
            lane.busy = True
            self.bridge.gather(lambda: self._send_next(caller.client_id, lane))
        return write.done

    def _send_next(self, client_id: int, lane: _Lane) -> None:
        """Send the next group of the lane's writes (once the current loop turn is over, so
        that a pipeline's writes read in one turn leave together)."""
        group = _next_group(lane)
        if not group:
            lane.busy = False
            if self._lanes.get(client_id) is lane:
                del self._lanes[client_id]
            return

        def on_done(future: Future[Any]) -> None:
            _settle_group(group, future)
            self._send_next(client_id, lane)

        self.bridge.call(self._starter(group), on_done)

    def _starter(self, group: list[_Write]) -> Callable[[], Future[Any]]:
        """How to start a group: an EXEC, one write alone, or several as one EXEC-like entry."""
        client, timeout_s = self.client, self.timeout_s
        first = group[0]
        if first.batch is not None:
            batch, watched = first.batch, first.watched or None
            return lambda: client.redis_exec_async(batch, watched, timeout_s)
        if len(group) == 1:
            command = first.command
            assert command is not None
            return lambda: client.redis_async(command, timeout_s)
        commands = [w.command for w in group]
        return lambda: client.redis_exec_async(commands, None, timeout_s)  # type: ignore[arg-type]


def _next_group(lane: _Lane) -> list[_Write]:
    """The lane's next writes to send as one call: an EXEC or a write alone (the client
    validates it), or up to WRITE_BATCH_MAX writes validated here (a refused one is
    answered now, so that it does not fail the others); empty when none are left."""
    waiting = lane.waiting
    while waiting:
        first = waiting.popleft()
        if first.batch is not None or not waiting or waiting[0].batch is not None:
            return [first]
        group = [first] if _valid(first.command, first.done) else []
        size = first.size_bytes
        while waiting and len(group) < WRITE_BATCH_MAX and waiting[0].batch is None:
            size += waiting[0].size_bytes
            if size > BATCH_BYTES_MAX:
                break
            write = waiting.popleft()
            if _valid(write.command, write.done):
                group.append(write)
        if group:
            return group
    return []


def _valid(command: list[bytes] | None, done: Pending) -> bool:
    """Whether the keyspace accepts `command`; if not, `done` gets the refusal now."""
    invalid = validate(command)  # type: ignore[arg-type]
    if invalid is not None:
        done.set(to_reply(invalid))
    return invalid is None


def _answer(future: Future[Any], write: bool, raw: bool = False) -> Any:
    """A settled client call's reply, converted (`raw`: as is), or its error reply."""
    try:
        reply = future.result()
    except Exception as exc:
        return failure_reply(exc, write)
    if raw or reply is None or isinstance(reply, list):
        return reply  # an EXEC's replies (converted by the caller) or its WATCH abort
    return to_reply(reply)


def _settle_group(group: list[_Write], future: Future[Any]) -> None:
    """Hand each write of a sent group its reply (an error for all when the call failed)."""
    replies = _answer(future, True)
    first = group[0]
    if first.batch is not None:
        _settle(first, [to_reply(r) for r in replies] if isinstance(replies, list) else replies)
    elif len(group) == 1:
        _settle(first, replies)
    elif isinstance(replies, list) and len(replies) == len(group):
        for write, reply in zip(group, replies, strict=True):
            _settle(write, to_reply(reply))
    else:
        for write in group:
            _settle(write, replies if isinstance(replies, Error) else Error(UNKNOWN))


def _settle(write: _Write, reply: Any) -> None:
    write.done.set(reply)
