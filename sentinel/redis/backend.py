"""The interface between the front door and the data: what the front door asks of a backend.

The front door owns the protocol and the connection state; a backend owns the keys. The real
backend (a client of the cluster through the router) lives with the cluster; tests use an
in-memory fake. Replies are plain values as described in `sentinel.redis.replies` (an error is
returned as `Error(...)`, not raised: a raised exception is a bug and becomes
`-ERR internal error`).

Ordering contract (what the front door guarantees so that a backend can pipeline): for one
connection, the calls in flight at the same moment are either all reads (`readonly` commands,
`watch`, `info`) or all writes (`write` commands, `execute_batch`); the front door waits for one
kind to finish before it starts the other. The calls are made in request order, and a backend
must apply the writes of one connection in the order of the calls (so it can put a whole
pipeline of writes in flight at once), and may answer in any order: the front door puts the
replies back in request order.

A call may return a `Pending` instead of a coroutine or an asyncio future: the front door then
gets the reply through a direct callback, in the loop turn that sets it (an asyncio future
would hand it over one turn later), and `together` lets the front door say when the calls it
made may start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Generator, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: A key's version as returned by `watch`: opaque to the front door, compared by the backend.
Version = Hashable


@dataclass(frozen=True, slots=True)
class Caller:
    """Which connection a call comes from (for exactly-once sessions and logs)."""

    client_id: int
    name: str


@dataclass(frozen=True, slots=True)
class RaftStatus:
    """What INFO shows of the cluster: its `raft` and `keyspace` sections."""

    role: str  # what the front door is connected to: "leader", or "none" without a leader
    term: int
    leader: str  # the leader's node name, "" when none is known
    commit_index: int
    applied_index: int
    keys: int
    expires: int


class Pending:
    """A reply to come, set once on the loop thread; each callback `then` registers runs at
    once when it is set (no loop turn between the answer and the reply's write). Awaitable,
    for the callers that are coroutines (EXEC, INFO)."""

    __slots__ = ("_callbacks", "_done", "_value")

    #: The most callbacks one reply may have (the front door registers one; `await`s add theirs).
    CALLBACKS_MAX = 16

    def __init__(self) -> None:
        self._done = False
        self._value: Any = None
        self._callbacks: list[Callable[[Any], None]] = []

    @classmethod
    def of(cls, value: Any) -> Pending:
        """A Pending that already holds `value`."""
        pending = cls()
        pending._done, pending._value = True, value
        return pending

    def done(self) -> bool:
        """Whether the reply is known."""
        return self._done

    def result(self) -> Any:
        """The reply (only once `done()`)."""
        assert self._done, "the reply is not known yet"
        return self._value

    def set(self, value: Any) -> None:
        """Settle with `value` (a second call is ignored) and run the callbacks now; one that
        raises is logged and the others still run."""
        if self._done:
            return
        self._done, self._value = True, value
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(value)
            except Exception:
                log.exception("redis backend: a reply's callback failed")

    def then(self, callback: Callable[[Any], None]) -> None:
        """Run `callback(reply)` when the reply is set (now, if it is)."""
        if self._done:
            callback(self._value)
            return
        assert len(self._callbacks) < self.CALLBACKS_MAX, "too many callbacks on one reply"
        self._callbacks.append(callback)

    def __await__(self) -> Generator[Any, None, Any]:
        if self._done:
            return self._value
        future = asyncio.get_running_loop().create_future()
        self.then(lambda value: future.done() or future.set_result(value))
        return (yield from future)


class Backend(Protocol):
    """The data side of the Redis front door. Every call returns an awaitable: a coroutine,
    a future (no task is made for it), or a `Pending` (cheapest: no task, no loop turn)."""

    def together(self, start: Callable[[], None]) -> None:
        """Run `start()`, which makes calls, and start them when it returns instead of at
        the end of the loop turn. The front door uses it when it serves one connection
        alone: no other connection's calls could share a request with these."""
        ...

    def execute(self, command: list[bytes], caller: Caller) -> Awaitable[Any]:
        """Run one data command (`command[0]` is the name as sent, any case) and return
        its reply. The command has passed the table's arity check."""
        ...

    def execute_batch(
        self,
        commands: Sequence[list[bytes]],
        watched: dict[bytes, Version],
        caller: Caller,
    ) -> Awaitable[list[Any] | Any | None]:
        """Run an EXEC: all `commands` as one atomic step (one log entry), unless a key in
        `watched` no longer has the version `watch` returned for it: then nothing runs and
        the answer is None. Otherwise one reply per command (an error reply for a command
        that failed at run time, as Redis does; the others still apply), or one `Error`
        for the whole batch when it could not run or its outcome is unknown."""
        ...

    def watch(self, keys: Sequence[bytes], caller: Caller) -> Awaitable[list[Version] | Any]:
        """The current version of each key, to be checked by a later `execute_batch`; or
        an `Error` reply when they could not be read (nothing is watched then)."""
        ...

    async def status(self) -> RaftStatus:
        """The cluster's state for INFO."""
        ...

    def refuse_queued(
        self, queued: Sequence[list[bytes]], args: list[bytes], watched: Collection[bytes]
    ) -> Any | None:
        """Why the data command `args` cannot join a MULTI block that holds `queued` and
        watches `watched`: an error reply given when it is queued (EXEC then aborts), as
        Redis Cluster's CROSSSLOT; None when it can."""
        ...
