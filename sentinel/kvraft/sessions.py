"""The exactly-once session table: client id -> highest applied seq and its reply.

Rules (every replica follows them in log order, so every replica holds the same table):

- A session is opened by a Register entry; its client id is that entry's log index. Log
  indexes are never reused, so an expired id can never be reopened, by a retry or otherwise.
- A write whose seq equals the session's highest gets the stored reply again, marked
  duplicate, and is not applied. A lower seq gets STALE_REQUEST (it was answered long ago).
  A higher seq is applied and becomes the new highest (seqs may skip; clients number 1, 2, 3).
- A write whose client id has no session (never registered, or expired) gets SESSION_EXPIRED
  and is not applied: the client cannot know whether its earlier attempt was applied, so it
  must report the outcome as unknown and Register again. This is what rules out a double
  apply after expiry.
- Every write that names a live session (applied, duplicate or stale) makes it the most
  recently used, at that log index. One entry touches several sessions only as a write
  batch, whose writes come in strictly increasing client id order. When a Register would
  take the table past `sessions_max`, the least recently used session goes: the smallest
  (last log index, client id). No clock is involved, so expiry is deterministic.

A str write's reply is its code alone; a Redis write's reply (INCR's new value, an EXEC's
array) is kept encoded (replycodec.py) so a retry gets the very reply the write gave. Memory
is bounded by sessions_max times the largest reply.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from sentinel.kvraft.limits import SESSIONS_MAX_DEFAULT, validate_sessions_max
from sentinel.kvraft.results import ResultCode


class Session(NamedTuple):
    """One client's session: highest applied seq (0 before the first write), its reply code,
    and the log index of the client's last entry (for least-recently-used expiry)."""

    client_id: int
    seq: int
    code: ResultCode
    last_index: int
    reply: bytes = b""  # a Redis write's encoded reply (empty for str writes)


class SessionTable:
    """Sessions in least-recently-used order (oldest first), at most `sessions_max` of them.

    Invariant: ordered by (last_index, client_id) ascending, so the first is the one to
    expire. It holds because log indexes only grow and one index touches several sessions
    only in increasing client id order (a write batch), each once.
    """

    __slots__ = ("_sessions", "expired_total", "sessions_max")

    def __init__(self, sessions_max: int = SESSIONS_MAX_DEFAULT) -> None:
        self.sessions_max = validate_sessions_max(sessions_max)
        self._sessions: OrderedDict[int, Session] = OrderedDict()
        self.expired_total = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Session]:
        """Sessions, least recently used first."""
        return iter(self._sessions.values())

    def get(self, client_id: int) -> Session | None:
        """The live session of `client_id`, or None (never registered, or expired)."""
        return self._sessions.get(client_id)

    def open(self, index: int) -> int:
        """Open a session for the Register entry at `index`; return its client id."""
        assert index not in self._sessions, f"log index {index} registered twice"
        self._sessions[index] = Session(index, 0, ResultCode.OK, index)
        self._expire()
        return index

    def record(
        self, client_id: int, seq: int, code: ResultCode, index: int, reply: bytes = b""
    ) -> None:
        """Note a write at `index` from a live session; `seq` is its new highest."""
        old = self._sessions[client_id]
        assert seq >= old.seq and index > old.last_index, (old, seq, index)
        self._sessions[client_id] = Session(client_id, seq, code, index, reply)
        self._sessions.move_to_end(client_id)

    def touch(self, client_id: int, index: int) -> Session:
        """Mark a live session used at `index` without changing its reply; return it."""
        old = self._sessions[client_id]
        self.record(client_id, old.seq, old.code, index, old.reply)
        return self._sessions[client_id]

    def _expire(self) -> None:
        while len(self._sessions) > self.sessions_max:
            self._sessions.popitem(last=False)
            self.expired_total += 1

    @classmethod
    def from_sessions(cls, sessions: Iterable[Session], sessions_max: int) -> SessionTable:
        """A table holding `sessions` (any order), expired down to `sessions_max`."""
        table = cls(sessions_max)
        for session in sorted(sessions, key=lambda s: (s.last_index, s.client_id)):
            table._sessions[session.client_id] = session
        table._expire()
        return table
