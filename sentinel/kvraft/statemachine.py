"""The replicated key/value state machine: pure, in memory, deterministic.

`KVStateMachine.apply(index, data, term)` applies one committed raft log entry and returns
its `Result`. No I/O, no clock, no randomness, no raft: the result and the new state are
functions of the log prefix alone, so replicas fed the same log hold the same state and
produce the same snapshot bytes. A log entry that cannot be decoded, or that breaks a limit,
gives BAD_COMMAND on every replica and changes nothing but the applied index; it never
raises.

The data is one Redis `Keyspace` (typed values, expiry, WATCH versions). The str commands
are Redis commands on it, keys and values UTF-8 encoded: Put = SET, Get = GET,
Append = APPEND, Delete = DEL, Cas = compare the string value then SET (expected None:
only if absent). Redis commands (RedisWrite, RedisExec) answer their reply encoded
(replycodec.py) in `Result.value`; a Purge deletes expired keys.

Time: an entry's log time is its stamp (codec.py; an unstamped entry: no time passed),
never below the highest stamp applied (`last_stamp_ms`). Randomness: the entry's
(index, term) (`rand_seed`). Exactly-once writes follow the session rules in
`sentinel.kvraft.sessions`; a Redis write's session keeps its encoded reply for retries.

An empty entry (`b""`) is a raft no-op (a new leader's first entry): it advances the applied
index and answers OK. A `WriteBatch` entry (codec.py) applies its writes in order, each under
its own session, and answers a tuple of their Results.
"""

from __future__ import annotations

import logging

from sentinel.kvraft.codec import CommandError, WriteBatch, decode_entry
from sentinel.kvraft.commands import (
    Append,
    Cas,
    Command,
    Delete,
    Get,
    Purge,
    Put,
    RedisExec,
    RedisRead,
    RedisReads,
    RedisVersions,
    RedisWrite,
    Register,
    Write,
)
from sentinel.kvraft.keyspace import Bulk, Error, Int, Keyspace, Null, Reply
from sentinel.kvraft.keyspace.replies import NULL_ARRAY, TOO_BIG, Array
from sentinel.kvraft.limits import SESSIONS_MAX_DEFAULT, InvalidRequest, validate_key
from sentinel.kvraft.replycodec import encode_reply
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
_GET, _APPEND, _DEL = b"GET", b"APPEND", b"DEL"
_UINT64 = 2**64 - 1
_SEED_MIX = 0x9E3779B97F4A7C15  # a 64-bit odd constant: (index, term) -> a spread seed


@message
class KVStats:
    """Figures for the dashboard."""

    applied_index: int
    keys: int
    bytes_held: int  # about the bytes of all keys and values
    sessions: int
    sessions_expired: int  # since start or the last restore


def rand_seed(index: int, term: int) -> int:
    """The randomness of the entry at (index, term): the same on every replica."""
    return (index * _SEED_MIX + term) & _UINT64


def str_value(value: bytes | None) -> str | None:
    """A stored value as the str API answers it (bytes that are not UTF-8, written through
    Redis, come back with surrogate escapes rather than an error)."""
    return None if value is None else value.decode("utf-8", "surrogateescape")


class KVStateMachine:
    """The keyspace, the session table, the applied index and the highest stamp applied.

    Invariants: `applied_index` grows with every apply (it refuses an index at or below it)
    and changes otherwise only by a restore; `last_stamp_ms` never decreases but by a
    restore.
    """

    def __init__(self, sessions_max: int = SESSIONS_MAX_DEFAULT) -> None:
        self._sessions = SessionTable(sessions_max)
        self.keyspace = Keyspace()
        self._applied_index = 0
        self._last_stamp_ms = 0

    @property
    def applied_index(self) -> int:
        """The index of the last entry applied (or restored from a snapshot)."""
        return self._applied_index

    @property
    def last_stamp_ms(self) -> int:
        """The highest log time applied: new entries are stamped no lower (server.py)."""
        return self._last_stamp_ms

    @property
    def bytes_held(self) -> int:
        """About the bytes of all keys and values (about the size of a snapshot; O(keys))."""
        return self.keyspace.size_bytes()

    @property
    def sessions_max(self) -> int:
        """The bound on the session table (the least recently used session expires first)."""
        return self._sessions.sessions_max

    def apply(self, index: int, data: bytes, term: int = 0) -> Result | tuple[Result, ...]:
        """Apply the committed entry at `index` (greater than applied_index; gaps allowed)
        of `term`: its Result, or for a WriteBatch entry the Result of each write in order."""
        self._advance(index)
        if isinstance(data, (bytes, bytearray, memoryview)) and len(data) == 0:
            return _OK
        try:
            now_ms, command = decode_entry(data)
        except CommandError as exc:
            log.warning("entry %d is not a valid command: %s", index, exc)
            return Result(ResultCode.BAD_COMMAND, detail=str(exc))
        return self._apply_command(index, command, self._stamp(now_ms), term)

    def apply_command(
        self, index: int, command: Command | WriteBatch, now_ms: int | None, term: int = 0
    ) -> Result | tuple[Result, ...]:
        """`apply(index, data, term)` for a command already decoded from the entry's bytes,
        stamped `now_ms`: a leader keeps the commands it proposed, and decoding its own
        proposal again would cost every write a second decode. The caller vouches that
        (now_ms, command) is `decode_entry(data)` of the entry at `index` (same index and
        term: Log Matching)."""
        self._advance(index)
        return self._apply_command(index, command, self._stamp(now_ms), term)

    def _advance(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int) or index <= self._applied_index:
            raise ValueError(f"apply at index {index!r}, but {self._applied_index} is applied")
        self._applied_index = index

    def _stamp(self, now_ms: int | None) -> int:
        if now_ms is not None and now_ms > self._last_stamp_ms:
            self._last_stamp_ms = now_ms
        return self._last_stamp_ms

    def read_time_ms(self, wall_ms: int) -> int:
        """The log time a read at wall clock `wall_ms` uses: never before the last stamp."""
        return max(wall_ms, self._last_stamp_ms)

    # -- reads (ReadIndex: not through the log) ------------------------------------------

    def read(self, key: str, now_ms: int | None = None) -> Result:
        """The value of `key` now (OK or NO_KEY); BAD_COMMAND for a bad key. Changes nothing."""
        try:
            validate_key(key)
        except InvalidRequest as exc:
            return Result(ResultCode.BAD_COMMAND, detail=str(exc))
        return self.lookup(key, now_ms)

    def value(self, key: str, now_ms: int | None = None) -> str | None:
        """The value of a validated `key` at `now_ms` (default: the last stamp), or None when
        it is absent or expired."""
        value = self.keyspace.live(key.encode(), self._last_stamp_ms if now_ms is None else now_ms)
        return str_value(value) if type(value) is bytes else None

    def lookup(self, key: str, now_ms: int | None = None) -> Result:
        """`read(key)` for a key the caller has validated already (a server's Get)."""
        value = self.value(key, now_ms)
        return _NO_KEY if value is None else Result(ResultCode.OK, value)

    def redis_read(self, command: RedisRead | RedisReads | RedisVersions, now_ms: int) -> Result:
        """A Redis read command (several: an Array of their replies) or WATCH's versions at
        `now_ms`: OK with the encoded reply (versions: an Array of Int, in the order of the
        keys). Changes nothing a client sees."""
        if type(command) is RedisVersions:
            versions = self.keyspace.versions(command.keys, now_ms)
            reply: Reply = Array(tuple(Int(versions[key]) for key in command.keys))
        elif type(command) is RedisReads:
            apply = self.keyspace.apply
            reply = Array(tuple(apply(list(args), now_ms) for args in command.commands))
        else:
            reply = self.keyspace.apply(list(command.args), now_ms)
        return Result(ResultCode.OK, encode_reply(reply))

    def expired_keys(self, now_ms: int, limit: int) -> list[bytes]:
        """Keys expired at `now_ms` (at most `limit`): what the leader logs a Purge of."""
        return self.keyspace.expired_keys(now_ms, limit)

    def stats(self) -> KVStats:
        """Figures for status reports and the dashboard (O(keys): not for a hot path)."""
        return KVStats(
            applied_index=self._applied_index,
            keys=len(self.keyspace),
            bytes_held=self.bytes_held,
            sessions=len(self._sessions),
            sessions_expired=self._sessions.expired_total,
        )

    @property
    def sessions(self) -> int:
        """Live sessions."""
        return len(self._sessions)

    # -- snapshots ------------------------------------------------------------------------

    def snapshot(self) -> bytes:
        """Deterministic bytes of the whole state, including applied index and sessions."""
        state = SnapshotState(
            self._applied_index, self._last_stamp_ms, self.keyspace.encode(),
            tuple(self._sessions),
        )  # fmt: skip
        return encode_snapshot(state)

    def restore(self, data: bytes) -> None:
        """Replace the whole state with a snapshot's. SnapshotError leaves the state as it was."""
        state = decode_snapshot(data)
        keyspace = Keyspace.decode(state.keyspace)
        sessions = SessionTable.from_sessions(state.sessions, self._sessions.sessions_max)
        # Nothing below can fail: the state changes all at once or not at all.
        self.keyspace, self._sessions = keyspace, sessions
        self._applied_index = state.applied_index
        self._last_stamp_ms = state.last_stamp_ms

    # -- applying commands ---------------------------------------------------------------

    def _apply_command(
        self, index: int, command: Command | WriteBatch, now_ms: int, term: int
    ) -> Result | tuple[Result, ...]:
        cls = type(command)
        if cls is WriteBatch:
            # client ids strictly increase (the decoder checks), so each session is touched
            # once at this index, in client id order: the order sessions.py keeps
            seed = rand_seed(index, term)
            return tuple(
                self._apply_write(index, write, now_ms, seed)
                for write in command.writes  # type: ignore[union-attr]
            )
        if cls is Get:
            return self.read(command.key, now_ms)  # type: ignore[union-attr]
        if cls is RedisRead or cls is RedisReads or cls is RedisVersions:
            return self.redis_read(command, now_ms)  # type: ignore[arg-type]
        if cls is Register:
            return Result(ResultCode.OK, client_id=self._sessions.open(index))
        if cls is Purge:
            self.keyspace.purge_expired(command.keys, now_ms)  # type: ignore[union-attr]
            return _OK
        return self._apply_write(index, command, now_ms, rand_seed(index, term))  # type: ignore[arg-type]

    def _apply_write(self, index: int, command: Write, now_ms: int, seed: int) -> Result:
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
                if session.reply:
                    return Result(session.code, session.reply, duplicate=True)
                return _DUPLICATES[session.code]
            return Result(
                ResultCode.STALE_REQUEST,
                detail=f"seq {command.seq} is below {session.seq}, the highest applied for "
                f"client {command.client_id}: already answered, not applied",
            )
        cls = type(command)
        if cls is RedisWrite or cls is RedisExec:
            reply = encode_reply(self._redis_write(command, now_ms, seed))  # type: ignore[arg-type]
            self._sessions.record(command.client_id, command.seq, ResultCode.OK, index, reply)
            return Result(ResultCode.OK, reply)
        code = self._write(command, now_ms)  # type: ignore[arg-type]
        self._sessions.record(command.client_id, command.seq, code, index)
        return _OK if code is ResultCode.OK else Result(code)

    def _redis_write(self, command: RedisWrite | RedisExec, now_ms: int, seed: int) -> Reply:
        keyspace = self.keyspace
        if type(command) is RedisWrite:
            return keyspace.apply(list(command.args), now_ms, seed)
        watched = dict(command.watched)  # type: ignore[union-attr]
        commands = [list(args) for args in command.commands]  # type: ignore[union-attr]
        replies = keyspace.apply_batch(commands, now_ms, seed, watched)
        return NULL_ARRAY if replies is None else Array(tuple(replies))

    def _write(self, command: Put | Append | Delete | Cas, now_ms: int) -> ResultCode:
        keyspace = self.keyspace
        key = command.key.encode()
        cls = type(command)
        if cls is Put:
            keyspace.set_string(key, command.value.encode(), now_ms)  # type: ignore[union-attr]
            return ResultCode.OK
        if cls is Append:
            reply = keyspace.apply([_APPEND, key, command.value.encode()], now_ms)  # type: ignore[union-attr]
            return ResultCode.OK if type(reply) is Int else _str_error(reply)
        if cls is Delete:
            reply = keyspace.apply([_DEL, key], now_ms)
            return ResultCode.OK if reply == Int(1) else ResultCode.NO_KEY
        assert cls is Cas
        current = keyspace.apply([_GET, key], now_ms)
        expected = command.expected  # type: ignore[union-attr]
        if type(current) is Error:
            return ResultCode.CAS_MISMATCH  # another type: never equal to a string
        if expected is None:
            matches = type(current) is Null
        else:
            matches = type(current) is Bulk and current.data == expected.encode()
        if not matches:
            return ResultCode.CAS_MISMATCH
        keyspace.set_string(key, command.new.encode(), now_ms)  # type: ignore[union-attr]
        return ResultCode.OK


def _str_error(reply: Reply) -> ResultCode:
    """The str API's code for an APPEND that failed: over the size limit, or (once the
    collection types exist) a key that holds no string, which the str API reports as
    VALUE_TOO_LARGE too ("this value cannot grow by that"): nothing changed either way."""
    if reply != TOO_BIG:
        log.info("str append refused: %s", reply)
    return ResultCode.VALUE_TOO_LARGE
