"""The clerk: one client session of the kv service, with 6.824's retry semantics.

A clerk talks to a fixed list of server endpoints (node ids) through any `Caller` (a
`sentinel.netsim.client.Network`). It remembers which server answered last (the leader)
and starts there; on no reply, WRONG_LEADER or RETRY it moves to the next server (or to
the leader the server named), pausing briefly after each full round so an election in
progress is not hammered.

Exactly-once: the first write registers a session (the server assigns the client id, the
log index of the Register entry). Writes are numbered 1, 2, 3, ... and a retry resends the
very same (client_id, seq), so the state machine applies it at most once and answers the
retry with the original reply.

One operation at a time per clerk (a lock serialises callers): a session's writes must be
issued in order. For concurrency use several clerks (`client.Client` keeps a pool).
Deadlines: `deadline` is a `time.monotonic()` instant or None (retry forever, 6.824's
semantics). A write whose deadline passes after it may have reached a server raises
`OutcomeUnknown`; otherwise `Unavailable`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import (
    Append,
    Cas,
    Command,
    Delete,
    Get,
    Put,
    Register,
    validate_command,
)
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable, ValueTooLarge
from sentinel.kvraft.limits import InvalidRequest
from sentinel.kvraft.protocol import (
    INVALID,
    OK,
    RETRY,
    SERVICE,
    WRONG_LEADER,
    KVReply,
    check_entry_size,
)
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.rpc import Caller, ClientEnd

#: One RPC attempt; the server answers RETRY after its own reply timeout (1 s) first.
RPC_TIMEOUT_S = 1.5
#: Pause after a full round of servers without an answer (an election takes 0.3-0.6 s).
ROUND_PAUSE_S = 0.02
#: Session re-registrations in one call (after SESSION_EXPIRED) before giving up.
REREGISTER_MAX = 3


class Clerk:
    """A client session; see the module docstring."""

    def __init__(
        self, caller: Caller, servers: Sequence[int], rpc_timeout_s: float = RPC_TIMEOUT_S
    ) -> None:
        assert servers, "a clerk needs at least one server"
        self.caller = caller
        self.rpc_timeout_s = rpc_timeout_s
        self.servers: list[int] = list(servers)
        self.ends = [ClientEnd(caller, s) for s in self.servers]
        self.leader = 0  # position in self.servers of the last server that answered
        self.client_id = 0  # 0: not registered yet
        self.seq = 0
        self.rpcs = 0
        self._lock = threading.Lock()

    def set_servers(self, servers: Sequence[int]) -> None:
        """Change the servers this clerk may talk to (tests: a clerk's reachable set). Safe
        while an operation is in flight: it uses the new set from its next attempt."""
        assert servers, "a clerk needs at least one server"
        servers = list(servers)
        ends = [ClientEnd(self.caller, s) for s in servers]
        known = self.servers[self.leader % len(self.servers)]
        self.leader = servers.index(known) if known in servers else 0
        self.servers, self.ends = servers, ends  # one reference each: readers see old or new

    # -- operations ----------------------------------------------------------------------

    def get(self, key: str, deadline: float | None = None) -> str | None:
        """The value of `key`, or None if it is absent. Raises Unavailable at the deadline."""
        command = Get(key)
        _check(command)
        with self._lock:
            result = self._call("Get", command, deadline, write=False)
        if result.code is ResultCode.NO_KEY:
            return None
        _expect_ok(result)
        return result.value

    def put(self, key: str, value: str, deadline: float | None = None) -> None:
        """Set `key` to `value`."""
        _expect_ok(self._write(Put, (key, value), deadline))

    def append(self, key: str, value: str, deadline: float | None = None) -> None:
        """Append `value` to `key` (a missing key counts as "")."""
        result = self._write(Append, (key, value), deadline)
        if result.code is ResultCode.VALUE_TOO_LARGE:
            raise ValueTooLarge(f"append to {key!r} would pass the value size limit")
        _expect_ok(result)

    def delete(self, key: str, deadline: float | None = None) -> bool:
        """Remove `key`; whether it was there."""
        result = self._write(Delete, (key,), deadline)
        if result.code is ResultCode.NO_KEY:
            return False
        _expect_ok(result)
        return True

    def cas(self, key: str, expected: str | None, new: str, deadline: float | None = None) -> bool:
        """Set `key` to `new` if its value is `expected` (None: absent); whether it did."""
        result = self._write(Cas, (key, expected, new), deadline)
        if result.code is ResultCode.CAS_MISMATCH:
            return False
        _expect_ok(result)
        return True

    # -- sessions and retries ------------------------------------------------------------

    def _write(self, cls: type, fields: tuple, deadline: float | None) -> Result:
        _check(cls(*fields, 1, 1))  # refuse bad input before anything is sent
        with self._lock:
            for _ in range(REREGISTER_MAX):
                if self.client_id == 0:
                    self._register(deadline)
                self.seq += 1
                command = cls(*fields, self.client_id, self.seq)
                result, maybe = self._attempts(cls.__name__, command, deadline, write=True)
                if result.code is not ResultCode.SESSION_EXPIRED:
                    return result
                self.client_id = 0  # the session is gone: the next write opens a new one
                if maybe:
                    raise OutcomeUnknown(
                        f"{cls.__name__} on {fields[0]!r}: the session expired while the write "
                        "was being retried; it may or may not have been applied"
                    )
        raise OutcomeUnknown(f"{cls.__name__}: session expired {REREGISTER_MAX} times")

    def _register(self, deadline: float | None) -> None:
        try:
            result, _maybe = self._attempts("Register", Register(), deadline, write=True)
        except OutcomeUnknown as exc:  # a lost Register only leaves an unused session
            raise Unavailable(f"could not open a session: {exc}") from None
        _expect_ok(result)
        assert result.client_id > 0, "Register answered without a client id"
        self.client_id, self.seq = result.client_id, 0

    def _call(self, method: str, command: Command, deadline: float | None, write: bool) -> Result:
        return self._attempts(method, command, deadline, write)[0]

    def _attempts(
        self, method: str, command: Command, deadline: float | None, write: bool
    ) -> tuple[Result, bool]:
        """Send `command` until a server answers it; (result, whether an earlier attempt
        may have been applied). Raises at the deadline (see the module docstring)."""
        name = f"{SERVICE}.{method}"
        maybe = False  # an attempt got no definite answer: it may have been applied
        misses = 0
        followed_hint = False
        while True:
            remaining = _remaining(deadline)
            if remaining <= 0:
                if write and maybe:
                    raise OutcomeUnknown(f"{method}: no answer before the deadline; "
                                         "the write may or may not have been applied")  # fmt: skip
                raise Unavailable(f"{method}: no server answered before the deadline")
            self.rpcs += 1
            servers, ends = self.servers, self.ends
            at = self.leader % len(servers)
            reply: Any = ends[at].call(name, command, min(self.rpc_timeout_s, remaining))
            if isinstance(reply, KVReply) and reply.err == OK and reply.result is not None:
                self.leader = at
                return reply.result, maybe
            if isinstance(reply, KVReply) and reply.err == INVALID:
                raise InvalidRequest(reply.detail or f"{method} refused by the server")
            if reply is not None and not isinstance(reply, KVReply):
                raise RuntimeError(f"{name} answered {type(reply).__name__}, not a KVReply")
            if reply is None or reply.err == RETRY:
                maybe = True
            hint = reply.leader if reply is not None and reply.err == WRONG_LEADER else 0
            if hint in servers and not followed_hint:
                self.leader, followed_hint = servers.index(hint), True
                continue  # one hop to the named leader; a wrong hint falls back to the round
            followed_hint = False
            self.leader = (at + 1) % len(servers)
            misses += 1
            if misses >= len(servers):
                misses = 0
                time.sleep(min(ROUND_PAUSE_S, max(0.0, _remaining(deadline))))


def _remaining(deadline: float | None) -> float:
    return float("inf") if deadline is None else deadline - time.monotonic()


def _check(command: Command) -> None:
    """InvalidRequest unless `command` passes the limits and fits one log entry."""
    check_entry_size(encode_command(validate_command(command)))


def _expect_ok(result: Result) -> None:
    if result.code is ResultCode.BAD_COMMAND:
        raise InvalidRequest(result.detail or "the server refused the command")
    if result.code is not ResultCode.OK:
        raise RuntimeError(f"unexpected result {result.code.name}: {result.detail}")
