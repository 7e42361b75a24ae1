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
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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


class Backend(Protocol):
    """The data side of the Redis front door. Every call returns an awaitable: a coroutine,
    or a future (cheaper per call: the front door then makes no task for it)."""

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

    async def watch(self, keys: Sequence[bytes], caller: Caller) -> list[Version] | Any:
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
