"""The clerk's retry rules as a sans-I/O state machine (h11 style): no sockets, no clock.

One `Operation` is one client call (get, put, ...) on one `SessionState` (an exactly-once
session: the servers, which one led last, the client id and the last write's seq). The
driver feeds it events and does what it says:

    op = Operation(session, prepare(Put, "k", "v"), deadline, rpc_timeout_s)
    action = op.start(now)
    while True:
        if Send:  reply = <RPC action.method(action.command) to action.server, action.timeout_s>
                  action = op.on_reply(reply, now)        # reply: RpcReply, or None (no answer)
        if Pause: <wait action.pause_s>;  action = op.resume(now)
        if Done:  return action.value                     # the call's answer
        if Fail:  raise action.error

The client (`client.Client`, whose blocking calls are its `*_async` calls waited on)
drives it from RPC-completion callbacks and timers. The rules (6.824's clerk, plus
sessions and deadlines):

- Start at the server that answered last (`session.leader`). An attempt waits at most
  `silence_s` (SILENCE_S: about the longest election timeout) for an answer, doubled after
  each attempt of the call that heard nothing, up to `rpc_timeout_s`: a paused or cut-off
  leader costs about one election, by when the others have a new leader, while a leader
  that is only slow is asked again less and less often. On no answer (loss, timeout,
  dead server), RETRY, REFUSED or WRONG_LEADER, move on: to the leader a WRONG_LEADER or
  RETRY reply names (one hop; a wrong hint falls back to the round), else to the next
  server. After a full round of servers without an answer, pause ROUND_PAUSE_S (an
  election may be running).
- Exactly-once: the first write of a session sends Register (the server assigns the client
  id); writes carry (client_id, seq), seq = 1, 2, 3, ...; every retry resends the same pair.
- SESSION_EXPIRED: the session is gone (the server's table is bounded); register again and
  resend under the new session, at most REREGISTER_MAX times per call, unless an earlier
  attempt may have been applied: then the outcome is unknown.
- Deadline (`deadline`, a monotonic instant, or None: retry forever): a write that was sent
  at least once without a definite answer (no reply, or RETRY) fails with OutcomeUnknown; a
  read, or a write no server took (WRONG_LEADER, REFUSED), fails with Unavailable. A lost
  Register is Unavailable. Either error names the last reason a server gave.
- INVALID (or a BAD_COMMAND result) -> InvalidRequest; an RPC error reply -> RpcError.

`prepare(kind, *fields)` validates a call's input once, before anything is sent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sentinel.kvraft.codec import encode_command
from sentinel.kvraft.commands import (
    Append,
    Cas,
    Command,
    Delete,
    Get,
    Put,
    RedisExec,
    RedisRead,
    RedisReads,
    RedisVersions,
    RedisWrite,
    Register,
    validate_command,
)
from sentinel.kvraft.errors import OutcomeUnknown, Unavailable, ValueTooLarge
from sentinel.kvraft.limits import (
    CLIENT_ID_MAX,
    KEY_BYTES_MAX,
    SEQ_MAX,
    VALUE_BYTES_MAX,
    InvalidRequest,
)
from sentinel.kvraft.protocol import (
    ENTRY_BYTES_MAX,
    INVALID,
    OK,
    RETRY,
    SERVICE,
    WRONG_LEADER,
    KVReply,
    check_entry_size,
)
from sentinel.kvraft.redisreq import redis_answer
from sentinel.kvraft.results import Result, ResultCode
from sentinel.netsim.rpc import RpcError, RpcReply

#: One RPC attempt; the server answers RETRY after its own reply timeout (1 s) first.
RPC_TIMEOUT_S = 1.5
#: An attempt's first wait for an answer before trying the next server: the longest default
#: election timeout (raft Config, NodeSpec: 150-300 ms), after which a silent leader has
#: been replaced. Retries resend the same (client_id, seq): a leader that was only slow and
#: applies it too gets a duplicate, answered from the session table and not applied again.
SILENCE_S = 0.3
#: Pause after a full round of servers without an answer (an election takes 0.15-0.3 s).
ROUND_PAUSE_S = 0.02
#: Session (re-)registrations in one call (after SESSION_EXPIRED) before giving up.
REREGISTER_MAX = 3
#: An upper bound on an encoded command's bytes besides its text (header, op, ids, varint
#: lengths, flag): a command whose text cannot pass the entry limit skips the encode.
_ENCODING_OVERHEAD_BYTES_MAX = 64
_UTF8_BYTES_PER_CHAR_MAX = 4
#: The calls and how many fields each takes (a write's without client_id and seq).
_ARITY: dict[type, int] = {Get: 1, Put: 2, Append: 2, Delete: 1, Cas: 3, RedisWrite: 1,
                           RedisExec: 2, RedisRead: 1, RedisReads: 1,
                           RedisVersions: 1}  # fmt: skip
#: The calls that read (served by ReadIndex, no session).
READ_KINDS = frozenset({Get, RedisRead, RedisReads, RedisVersions})
_REDIS_KINDS = frozenset({RedisWrite, RedisExec, RedisRead, RedisReads, RedisVersions})
_METHODS: dict[type, str] = {k: f"{SERVICE}.{k.__name__}" for k in (*_ARITY, Register)}

#: Replies whose `leader` field is a hint worth one hop (a REFUSED reply names none).
_HINTED = (WRONG_LEADER, RETRY)


# -- what the driver is told to do ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Send:
    """Send `command` as RPC `method` to node `server`; give up waiting after `timeout_s`."""

    server: int
    method: str
    command: Command
    timeout_s: float


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait `pause_s`, then call `Operation.resume`."""

    pause_s: float


@dataclass(frozen=True, slots=True)
class Done:
    """The call is over; `value` is its answer."""

    value: Any


@dataclass(frozen=True, slots=True)
class Fail:
    """The call is over; raise `error`."""

    error: Exception


Action = Send | Pause | Done | Fail


# -- input, validated once ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """A validated call: the command class and its fields (a write's without the ids)."""

    kind: type
    fields: tuple

    @property
    def is_write(self) -> bool:
        """Whether this call changes state (needs a session)."""
        return self.kind not in READ_KINDS


def prepare(kind: type, *fields: Any) -> Request:
    """A Request for `kind(*fields)` (a write: without client_id and seq). Raises
    InvalidRequest if a field breaks its type or limit, or if the command might not fit one
    log entry (checked with the largest ids, so no later session can push it over)."""
    if _plainly_valid(kind, fields):
        return Request(kind, fields)
    if kind not in _ARITY:
        raise InvalidRequest(f"unknown operation: {getattr(kind, '__name__', kind)!r}")
    if len(fields) != _ARITY[kind]:
        raise InvalidRequest(f"{kind.__name__} takes {_ARITY[kind]} fields, not {len(fields)}")
    command = kind(*fields) if kind is Get else kind(*fields, CLIENT_ID_MAX, SEQ_MAX)
    validate_command(command)  # the exact error, or it is valid after all (non-ASCII text)
    chars = sum(len(f) for f in fields if isinstance(f, str))
    if chars * _UTF8_BYTES_PER_CHAR_MAX + _ENCODING_OVERHEAD_BYTES_MAX > ENTRY_BYTES_MAX:
        check_entry_size(encode_command(command))  # it might not fit: measure exactly
    return Request(kind, fields)


def _plainly_valid(kind: type, fields: tuple) -> bool:
    """The common case, cheaply: ASCII text (bytes = characters) well inside every limit.
    False sends the call through the full validation, which names the problem if any."""
    if _ARITY.get(kind) != len(fields):
        return False
    key = fields[0]
    if type(key) is not str or not key or len(key) > KEY_BYTES_MAX or not key.isascii():
        return False
    total = len(key)
    for i, text in enumerate(fields[1:]):
        if text is None and kind is Cas and i == 0:
            continue  # Cas expecting the key to be absent
        if type(text) is not str or len(text) > VALUE_BYTES_MAX or not text.isascii():
            return False
        total += len(text)
    return total + _ENCODING_OVERHEAD_BYTES_MAX <= ENTRY_BYTES_MAX


# -- a session ----------------------------------------------------------------------------


class SessionState:
    """One exactly-once session's client side (mutated only by its current Operation)."""

    __slots__ = ("client_id", "leader", "rpcs", "seq", "servers")

    def __init__(self, servers: Sequence[int]) -> None:
        assert servers, "a session needs at least one server"
        self.servers: tuple[int, ...] = tuple(servers)
        self.leader = 0  # position in `servers` of the server that answered last
        self.client_id = 0  # 0: not registered yet
        self.seq = 0  # the last write's sequence number in this session
        self.rpcs = 0  # attempts sent (tests: "nothing was sent")

    def set_servers(self, servers: Sequence[int]) -> None:
        """Change the servers (keeping the known leader if it is among them). Safe while an
        operation runs: it uses the new set from its next attempt."""
        assert servers, "a session needs at least one server"
        servers = tuple(servers)
        known = self.servers[self.leader % len(self.servers)]
        self.leader = servers.index(known) if known in servers else 0
        self.servers = servers  # one reference: readers see the old or the new tuple


# -- one call -----------------------------------------------------------------------------


class Operation:
    """The attempts of one call on one session (see the module docstring)."""

    __slots__ = ("_command", "_followed_hint", "_maybe", "_misses", "_refusal", "_rounds",
                 "_sent_to", "_wait_s", "deadline", "request", "rpc_timeout_s",
                 "session")  # fmt: skip

    def __init__(
        self,
        session: SessionState,
        request: Request,
        deadline: float | None,
        rpc_timeout_s: float = RPC_TIMEOUT_S,
        silence_s: float = SILENCE_S,
    ) -> None:
        assert rpc_timeout_s > 0 and silence_s > 0, "rpc_timeout_s and silence_s must be positive"
        self.session = session
        self.request = request
        self.deadline = math.inf if deadline is None else deadline
        self.rpc_timeout_s = rpc_timeout_s
        self._rounds = 0  # registrations begun (writes)
        self._command: Command = Register()
        self._maybe = False  # the current command may have been applied
        self._misses = 0  # attempts without an answer since the last pause
        self._followed_hint = False
        self._sent_to = 0  # the server of the attempt in flight
        self._refusal = ""  # why a server last refused to take the call (for the error)
        self._wait_s = min(silence_s, rpc_timeout_s)  # the next attempt's wait for an answer

    # -- events ---------------------------------------------------------------------------

    def start(self, now: float) -> Action:
        """The first action of the call."""
        if not self.request.is_write:
            return self._begin(self.request.kind(*self.request.fields), now)
        return self._next_round(now)

    def on_reply(self, reply: RpcReply | None, now: float) -> Action:
        """The answer to the last Send: the RpcReply, or None (lost, unreachable, timeout)."""
        if reply is not None and reply.error is not None:
            return Fail(RpcError(reply.error))
        value = None if reply is None else reply.value
        method = type(self._command).__name__
        if isinstance(value, KVReply):
            if value.err == OK and value.result is not None:
                self._remember_leader()
                return self._answered(value.result, now)
            if value.err == INVALID:
                return Fail(InvalidRequest(value.detail or f"{method} refused by the server"))
        elif value is not None:
            name = f"{SERVICE}.{method}"
            return Fail(RuntimeError(f"{name} answered {type(value).__name__}, not a KVReply"))
        if value is None:  # silence: wait longer next time (the leader may only be slow)
            self._wait_s = min(2 * self._wait_s, self.rpc_timeout_s)
        if value is None or value.err == RETRY:
            self._maybe = True
        if value is not None and value.detail:
            self._refusal = f"node {self._sent_to}: {value.detail}"
        hint = value.leader if value is not None and value.err in _HINTED else 0
        return self._move_on(hint, now)

    def resume(self, now: float) -> Action:
        """After a Pause."""
        return self._attempt(now)

    def cancel(self, reason: str) -> Fail:
        """End the call early (the driver can no longer send), with the deadline's error."""
        return self._expired(reason)

    # -- the rules ------------------------------------------------------------------------

    def _next_round(self, now: float) -> Action:
        """Send the write (registering first if the session has no id)."""
        if self._rounds >= REREGISTER_MAX:
            name = self.request.kind.__name__
            return Fail(OutcomeUnknown(f"{name}: session expired {REREGISTER_MAX} times"))
        self._rounds += 1
        if self.session.client_id == 0:
            return self._begin(Register(), now)
        return self._send_write(now)

    def _send_write(self, now: float) -> Action:
        session = self.session
        session.seq += 1
        command = self.request.kind(*self.request.fields, session.client_id, session.seq)
        return self._begin(command, now)

    def _begin(self, command: Command, now: float) -> Action:
        self._command = command
        self._maybe = False
        self._misses = 0
        self._followed_hint = False
        return self._attempt(now)

    def _attempt(self, now: float) -> Action:
        remaining = self.deadline - now
        if remaining <= 0:
            return self._expired("no definite answer before the deadline")
        session = self.session
        servers = session.servers
        self._sent_to = servers[session.leader % len(servers)]
        session.rpcs += 1
        method = _METHODS[type(self._command)]
        return Send(self._sent_to, method, self._command, min(self._wait_s, remaining))

    def _expired(self, why: str) -> Fail:
        name = type(self._command).__name__
        if self._refusal:  # e.g. "node 3: node 3 cannot persist (disk full: ...)"
            why = f"{why} (last refusal: {self._refusal})"
        if isinstance(self._command, Register):
            if self._maybe:  # a lost Register only leaves an unused session behind
                return Fail(Unavailable(f"could not open a session: Register: {why}"))
            return Fail(Unavailable(f"Register: {why}; no server took it"))
        if self.request.is_write and self._maybe:
            return Fail(
                OutcomeUnknown(f"{name}: {why}; the write may or may not have been applied")
            )
        return Fail(Unavailable(f"{name}: {why}; it changed nothing"))

    def _move_on(self, hint: int, now: float) -> Action:
        session = self.session
        servers = session.servers
        if hint in servers and not self._followed_hint:
            session.leader, self._followed_hint = servers.index(hint), True
            return self._attempt(now)  # one hop to the named leader
        self._followed_hint = False
        at = servers.index(self._sent_to) if self._sent_to in servers else session.leader
        session.leader = (at + 1) % len(servers)
        self._misses += 1
        if self._misses < len(servers):
            return self._attempt(now)
        self._misses = 0
        pause_s = min(ROUND_PAUSE_S, self.deadline - now)
        return Pause(pause_s) if pause_s > 0 else self._attempt(now)

    def _remember_leader(self) -> None:
        servers = self.session.servers
        if self._sent_to in servers:
            self.session.leader = servers.index(self._sent_to)

    def _answered(self, result: Result, now: float) -> Action:
        if isinstance(self._command, Register):
            if result.code is not ResultCode.OK:
                return Fail(_unexpected(result))
            if result.client_id <= 0:
                return Fail(RuntimeError("Register answered without a client id"))
            self.session.client_id, self.session.seq = result.client_id, 0
            return self._send_write(now)
        if result.code is ResultCode.SESSION_EXPIRED and self.request.is_write:
            self.session.client_id = 0  # gone: the next write opens a new session
            if self._maybe:
                name = self.request.kind.__name__
                key = self.request.fields[0]
                return Fail(
                    OutcomeUnknown(
                        f"{name} on {key!r}: the session expired while the write was being "
                        "retried; it may or may not have been applied"
                    )
                )
            return self._next_round(now)
        return _outcome(self.request, result)


def _outcome(request: Request, result: Result) -> Done | Fail:
    """What a call answers, given the state machine's Result for its command."""
    code, kind = result.code, request.kind
    if kind in _REDIS_KINDS and code is ResultCode.OK:
        return _redis_outcome(request, result)
    if code is ResultCode.OK:
        if kind is Get:
            return Done(result.value)
        return Done(True if kind is Delete or kind is Cas else None)
    if code is ResultCode.NO_KEY and (kind is Get or kind is Delete):
        return Done(None if kind is Get else False)
    if code is ResultCode.CAS_MISMATCH and kind is Cas:
        return Done(False)
    if code is ResultCode.VALUE_TOO_LARGE and kind is Append:
        key = request.fields[0]
        return Fail(ValueTooLarge(f"append to {key!r} would pass the value size limit"))
    return Fail(_unexpected(result))


def _redis_outcome(request: Request, result: Result) -> Done | Fail:
    """A Redis call's answer (redisreq.py), or the error of a malformed one."""
    try:
        return Done(redis_answer(request.kind, request.fields, result.value))
    except ValueError as exc:
        return Fail(RuntimeError(f"the server answered a malformed reply: {exc}"))


def _unexpected(result: Result) -> Exception:
    if result.code is ResultCode.BAD_COMMAND:
        return InvalidRequest(result.detail or "the server refused the command")
    return RuntimeError(f"unexpected result {result.code.name}: {result.detail}")


__all__ = [
    "REREGISTER_MAX",
    "ROUND_PAUSE_S",
    "RPC_TIMEOUT_S",
    "SILENCE_S",
    "Action",
    "Done",
    "Fail",
    "Operation",
    "Pause",
    "Request",
    "Send",
    "SessionState",
    "prepare",
]
