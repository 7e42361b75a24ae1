"""The clerk: one client session of the kv service, with 6.824's retry semantics.

A clerk talks to a fixed list of server endpoints (node ids) through any `Caller` (a
`sentinel.netsim.client.Network`). It remembers which server answered last (the leader)
and starts there; on no reply, WRONG_LEADER, REFUSED or RETRY it moves to the next server
(or to the leader the server named), pausing briefly after each full round so an election
in progress is not hammered.

Exactly-once: the first write registers a session (the server assigns the client id, the
log index of the Register entry). Writes are numbered 1, 2, 3, ... and a retry resends the
very same (client_id, seq), so the state machine applies it at most once and answers the
retry with the original reply.

The rules live in `attempts.py` (a sans-I/O state machine shared with the asynchronous
client); a clerk drives them with blocking RPCs and sleeps. One operation at a time per
clerk (a lock serialises callers): a session's writes must be issued in order. For
concurrency use several clerks (`client.Client` keeps a pool). Deadlines: `deadline` is a
`time.monotonic()` instant or None (retry forever, 6.824's semantics). A write whose
deadline passes after it may have reached a server raises `OutcomeUnknown`; otherwise
`Unavailable`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sentinel.kvraft.attempts import (
    REREGISTER_MAX,
    ROUND_PAUSE_S,
    RPC_TIMEOUT_S,
    Done,
    Fail,
    Operation,
    Pause,
    Request,
    Send,
    SessionState,
    prepare,
)
from sentinel.kvraft.commands import Append, Cas, Delete, Get, Put
from sentinel.kvraft.limits import InvalidRequest
from sentinel.netsim.rpc import Caller

__all__ = ["REREGISTER_MAX", "ROUND_PAUSE_S", "RPC_TIMEOUT_S", "Clerk"]


class Clerk:
    """A client session; see the module docstring."""

    def __init__(
        self, caller: Caller, servers: Sequence[int], rpc_timeout_s: float = RPC_TIMEOUT_S
    ) -> None:
        assert servers, "a clerk needs at least one server"
        self.caller = caller
        self.rpc_timeout_s = rpc_timeout_s
        self.session = SessionState(servers)
        self._lock = threading.Lock()

    # -- the session, for callers and tests ------------------------------------------------

    @property
    def servers(self) -> tuple[int, ...]:
        """The node ids this clerk may talk to."""
        return self.session.servers

    @property
    def leader(self) -> int:
        """The position in `servers` of the server that answered last."""
        return self.session.leader

    @leader.setter
    def leader(self, position: int) -> None:
        self.session.leader = position

    @property
    def client_id(self) -> int:
        """The session's client id (0: not registered yet)."""
        return self.session.client_id

    @property
    def seq(self) -> int:
        """The last write's sequence number."""
        return self.session.seq

    @property
    def rpcs(self) -> int:
        """RPC attempts sent so far."""
        return self.session.rpcs

    def set_servers(self, servers: Sequence[int]) -> None:
        """Change the servers this clerk may talk to (tests: a clerk's reachable set). Safe
        while an operation is in flight: it uses the new set from its next attempt."""
        self.session.set_servers(servers)

    # -- operations ----------------------------------------------------------------------

    def get(self, key: str, deadline: float | None = None) -> str | None:
        """The value of `key`, or None if it is absent. Raises Unavailable at the deadline."""
        return self.run(prepare(Get, key), deadline)

    def put(self, key: str, value: str, deadline: float | None = None) -> None:
        """Set `key` to `value`."""
        self.run(prepare(Put, key, value), deadline)

    def append(self, key: str, value: str, deadline: float | None = None) -> None:
        """Append `value` to `key` (a missing key counts as ""). Raises ValueTooLarge if
        the value would pass VALUE_BYTES_MAX."""
        self.run(prepare(Append, key, value), deadline)

    def delete(self, key: str, deadline: float | None = None) -> bool:
        """Remove `key`; whether it was there."""
        return self.run(prepare(Delete, key), deadline)

    def cas(self, key: str, expected: str | None, new: str, deadline: float | None = None) -> bool:
        """Set `key` to `new` if its value is `expected` (None: absent); whether it did."""
        return self.run(prepare(Cas, key, expected, new), deadline)

    def run(self, request: Request, deadline: float | None) -> Any:
        """Carry out a prepared request (see `attempts.prepare`); its answer, or raise."""
        _check_deadline(deadline)
        with self._lock:
            op = Operation(self.session, request, deadline, self.rpc_timeout_s)
            action = op.start(time.monotonic())
            while True:
                if isinstance(action, Send):
                    reply = self.caller.call(
                        action.server, action.method, action.command, action.timeout_s
                    )
                    if reply is None and self.caller.closed:  # as the async client does:
                        action = op.cancel("could not send (the network is closed)")
                    else:  # a lost reply is worth a retry; a lost connection is not
                        action = op.on_reply(reply, time.monotonic())
                elif isinstance(action, Pause):
                    time.sleep(action.pause_s)
                    action = op.resume(time.monotonic())
                elif isinstance(action, Done):
                    return action.value
                else:
                    assert isinstance(action, Fail), action
                    raise action.error


def _check_deadline(deadline: object) -> None:
    """A deadline is None or a `time.monotonic()` instant: TypeError for any other type
    (a bool too), InvalidRequest for NaN (no instant is past it, nor before it)."""
    if deadline is None:
        return
    if isinstance(deadline, bool) or not isinstance(deadline, int | float):
        raise TypeError(
            f"deadline must be a time.monotonic() instant (float) or None, "
            f"not {type(deadline).__name__}"
        )
    if deadline != deadline:
        raise InvalidRequest("deadline must be a time.monotonic() instant, not NaN")
