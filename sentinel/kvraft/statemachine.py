"""The replicated key/value state machine: pure, in memory, deterministic.

`KVStateMachine.apply(index, data)` applies one committed raft log entry and returns its
`Result`. No I/O, no clock, no randomness, no raft: the result and the new state are functions
of the log prefix alone, so replicas fed the same log hold the same state and produce the same
snapshot bytes. A log entry that cannot be decoded, or that breaks a limit, gives BAD_COMMAND
on every replica and changes nothing but the applied index; it never raises.

Exactly-once writes follow the session rules in `sentinel.kvraft.sessions`.

An empty entry (`b""`) is a raft no-op (a new leader's first entry): it advances the applied
index and answers OK. A `WriteBatch` entry (codec.py) applies its writes in order, each under
its own session, and answers a tuple of their Results.
"""

from __future__ import annotations

import logging

from sentinel.kvraft.codec import CommandError, WriteBatch, decode_command
from sentinel.kvraft.commands import Append, Cas, Command, Delete, Get, Put, Register, Write
from sentinel.kvraft.limits import (
    SESSIONS_MAX_DEFAULT,
    VALUE_BYTES_MAX,
    InvalidRequest,
    validate_key,
)
from sentinel.kvraft.results import Result, ResultCode
from sentinel.kvraft.sessions import SessionTable
from sentinel.kvraft.snapshot import SnapshotState, decode_snapshot, encode_snapshot
from sentinel.wire import message

log = logging.getLogger(__name__)

#: The result of every plain successful write: one shared object (a server may compare it by
#: identity to answer with a reply encoded once).
OK_RESULT = Result(ResultCode.OK)
_OK = OK_RESULT
_NO_KEY = Result(ResultCode.NO_KEY)
_DUPLICATES = {code: Result(code, duplicate=True) for code in ResultCode}


@message
class KVStats:
    """Figures for the dashboard."""

    applied_index: int
    keys: int
    bytes_held: int  # UTF-8 bytes of all keys and values
    sessions: int
    sessions_expired: int  # since start or the last restore


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


class KVStateMachine:
    """Keys and values, the session table and the applied index.

    Invariants: `applied_index` grows with every apply (it refuses an index at or below it)
    and changes otherwise only by a restore;
    `_value_bytes` has the keys of `_data`, each with its value's UTF-8 size, and
    `bytes_held` is their sum plus the keys' UTF-8 sizes.
    """

    def __init__(self, sessions_max: int = SESSIONS_MAX_DEFAULT) -> None:
        self._sessions = SessionTable(sessions_max)
        self._data: dict[str, str] = {}
        self._value_bytes: dict[str, int] = {}  # key -> UTF-8 size of its value
        self._bytes_held = 0
        self._applied_index = 0

    @property
    def applied_index(self) -> int:
        """The index of the last entry applied (or restored from a snapshot)."""
        return self._applied_index

    @property
    def bytes_held(self) -> int:
        """UTF-8 bytes of all keys and values (about the size of a snapshot)."""
        return self._bytes_held

    @property
    def sessions_max(self) -> int:
        """The bound on the session table (the least recently used session expires first)."""
        return self._sessions.sessions_max

    def apply(self, index: int, data: bytes) -> Result | tuple[Result, ...]:
        """Apply the committed entry at `index` (greater than applied_index; gaps allowed):
        its Result, or for a WriteBatch entry the Result of each write in order."""
        if isinstance(index, bool) or not isinstance(index, int) or index <= self._applied_index:
            raise ValueError(f"apply at index {index!r}, but {self._applied_index} is applied")
        self._applied_index = index
        if isinstance(data, (bytes, bytearray, memoryview)) and len(data) == 0:
            return _OK
        try:
            command = decode_command(data)
        except CommandError as exc:
            log.warning("entry %d is not a valid command: %s", index, exc)
            return Result(ResultCode.BAD_COMMAND, detail=str(exc))
        return self._apply_command(index, command)

    def apply_command(
        self, index: int, command: Command | WriteBatch
    ) -> Result | tuple[Result, ...]:
        """`apply(index, data)` for a command already decoded from the entry's bytes: a
        leader keeps the commands it proposed, and decoding its own proposal again would
        cost every write a second decode. The caller vouches that `command` is
        `decode_command(data)` of the entry at `index` (same index and term: Log Matching)."""
        if isinstance(index, bool) or not isinstance(index, int) or index <= self._applied_index:
            raise ValueError(f"apply at index {index!r}, but {self._applied_index} is applied")
        self._applied_index = index
        return self._apply_command(index, command)

    def read(self, key: str) -> Result:
        """The value of `key` now (OK or NO_KEY); BAD_COMMAND for a bad key. Changes nothing."""
        try:
            validate_key(key)
        except InvalidRequest as exc:
            return Result(ResultCode.BAD_COMMAND, detail=str(exc))
        return self.lookup(key)

    def value(self, key: str) -> str | None:
        """The value of a validated `key` now, or None when it is absent."""
        return self._data.get(key)

    def lookup(self, key: str) -> Result:
        """`read(key)` for a key the caller has validated already (a server's Get)."""
        value = self._data.get(key)
        return _NO_KEY if value is None else Result(ResultCode.OK, value)

    def stats(self) -> KVStats:
        """Figures for status reports and the dashboard."""
        return KVStats(
            applied_index=self._applied_index,
            keys=len(self._data),
            bytes_held=self._bytes_held,
            sessions=len(self._sessions),
            sessions_expired=self._sessions.expired_total,
        )

    def snapshot(self) -> bytes:
        """Deterministic bytes of the whole state, including applied index and sessions."""
        state = SnapshotState(self._applied_index, tuple(self._data.items()), tuple(self._sessions))
        return encode_snapshot(state)

    def restore(self, data: bytes) -> None:
        """Replace the whole state with a snapshot's. SnapshotError leaves the state as it was."""
        state = decode_snapshot(data)
        sessions = SessionTable.from_sessions(state.sessions, self._sessions.sessions_max)
        data_map = dict(state.items)
        if state.value_sizes is not None and state.keys_bytes is not None:
            # the decoder counted the bytes as it read them, so no string is encoded again
            # just to count its bytes
            value_bytes = dict(zip(data_map, state.value_sizes, strict=True))
            bytes_held = state.keys_bytes + sum(state.value_sizes)
        else:
            value_bytes = {key: _utf8_len(value) for key, value in state.items}
            bytes_held = sum(_utf8_len(key) + size for key, size in value_bytes.items())
        # Nothing below can fail: the state changes all at once or not at all.
        self._data, self._value_bytes, self._sessions = data_map, value_bytes, sessions
        self._bytes_held = bytes_held
        self._applied_index = state.applied_index

    # -- applying commands ---------------------------------------------------------------

    def _apply_command(
        self, index: int, command: Command | WriteBatch
    ) -> Result | tuple[Result, ...]:
        if type(command) is WriteBatch:
            # client ids strictly increase (the decoder checks), so each session is touched
            # once at this index, in client id order: the order sessions.py keeps
            return tuple(self._apply_write(index, write) for write in command.writes)
        if isinstance(command, Get):
            return self.read(command.key)
        if isinstance(command, Register):
            return Result(ResultCode.OK, client_id=self._sessions.open(index))
        return self._apply_write(index, command)

    def _apply_write(self, index: int, command: Write) -> Result:
        session = self._sessions.get(command.client_id)
        if session is None:
            return Result(
                ResultCode.SESSION_EXPIRED,
                detail=f"client {command.client_id} has no session (never registered, or "
                "expired): not applied; the outcome of its earlier requests is unknown",
            )
        if command.seq <= session.seq:
            self._sessions.touch(command.client_id, index)
            if command.seq == session.seq:
                return _DUPLICATES[session.code]
            return Result(
                ResultCode.STALE_REQUEST,
                detail=f"seq {command.seq} is below {session.seq}, the highest applied for "
                f"client {command.client_id}: already answered, not applied",
            )
        code = self._write(command)
        self._sessions.record(command.client_id, command.seq, code, index)
        return _OK if code is ResultCode.OK else Result(code)

    def _write(self, command: Write) -> ResultCode:
        key = command.key
        if isinstance(command, Put):
            self._set(key, command.value, _utf8_len(command.value))
            return ResultCode.OK
        if isinstance(command, Append):
            size = self._value_bytes.get(key, 0) + _utf8_len(command.value)
            if size > VALUE_BYTES_MAX:
                return ResultCode.VALUE_TOO_LARGE
            self._set(key, self._data.get(key, "") + command.value, size)
            return ResultCode.OK
        if isinstance(command, Delete):
            if key not in self._data:
                return ResultCode.NO_KEY
            self._remove(key)
            return ResultCode.OK
        assert isinstance(command, Cas)
        if self._data.get(key) != command.expected:
            return ResultCode.CAS_MISMATCH
        self._set(key, command.new, _utf8_len(command.new))
        return ResultCode.OK

    def _set(self, key: str, value: str, value_bytes: int) -> None:
        if key in self._data:
            self._remove(key)
        self._data[key] = value
        self._value_bytes[key] = value_bytes
        self._bytes_held += _utf8_len(key) + value_bytes

    def _remove(self, key: str) -> None:
        del self._data[key]
        self._bytes_held -= _utf8_len(key) + self._value_bytes.pop(key)
