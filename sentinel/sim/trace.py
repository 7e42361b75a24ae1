"""The event trace of a run: a bounded ring of recent events and a digest of all of them.

Events are tuples of ints and short strings, formatted only when someone reads them (a
failure, `--verbose`), so tracing costs little on the fast path. The digest covers every
event of the run, so two runs with the same seed must have the same digest.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator

from sentinel.raft import MessageType, Role

RING_EVENTS_DEFAULT = 200
#: Events buffered before they are folded into the digest (amortises hashing).
_DIGEST_BATCH = 512

_ROLE_NAMES = {role.value: role.name.lower() for role in Role}
_TYPE_NAMES = {t.value: t.name for t in MessageType}

Event = tuple[object, ...]


class Trace:
    """Recent events (a ring of `ring_events`), optionally every event, and a digest."""

    def __init__(self, ring_events: int = RING_EVENTS_DEFAULT, keep_all: bool = False) -> None:
        assert ring_events > 0, "the ring needs room for one event"
        self.ring: deque[Event] = deque(maxlen=ring_events)
        self.all: list[Event] | None = [] if keep_all else None
        self._pending: list[Event] = []
        self._hash = hashlib.blake2b(digest_size=16)
        self.events = 0

    def add(self, event: Event) -> None:
        """Record one event: (time_us, kind, ...)."""
        self.ring.append(event)
        self._pending.append(event)
        self.events += 1
        if self.all is not None:
            self.all.append(event)
        if len(self._pending) >= _DIGEST_BATCH:
            self._fold()

    def _fold(self) -> None:
        if self._pending:
            self._hash.update(repr(self._pending).encode())
            self._pending = []

    def digest(self) -> str:
        """A hex digest of every event so far."""
        self._fold()
        return self._hash.hexdigest()

    def tail(self) -> list[str]:
        """The recent events, formatted."""
        return [format_event(e) for e in self.ring]

    def lines(self) -> Iterator[str]:
        """Every event, formatted (needs keep_all=True)."""
        assert self.all is not None, "this trace keeps only the ring"
        return (format_event(e) for e in self.all)


def format_event(event: Event) -> str:
    """One event as a readable line: `  1234.567 ms  deliver 1->2 APPEND t3 i7 n2 c6`."""
    time_us, kind, *rest = event
    head = f"{time_us / 1000:10.3f} ms  {kind:<9}"
    if kind in ("deliver", "drop", "cut", "dup") and len(rest) >= 7:
        src, dst, mtype, term, index, n_entries, commit = rest[:7]
        name = _TYPE_NAMES.get(mtype, str(mtype))  # type: ignore[arg-type]
        extra = " reject" if len(rest) > 7 and rest[7] else ""
        return f"{head} {src}->{dst} {name} t{term} i{index} n{n_entries} c{commit}{extra}"
    if kind == "role" and len(rest) == 4:
        node, role, term, leader = rest
        return f"{head} node {node} {_ROLE_NAMES.get(role, role)} term {term} leader {leader}"
    if kind in ("apply", "propose") and len(rest) >= 3:
        node, index, term, *more = rest
        extra = f" {more[0]}" if more else ""
        return f"{head} node {node} index {index} term {term}{extra}"
    if kind in ("crash", "restart", "pause", "resume", "compact", "restore", "arm-crash"):
        node, *more = rest
        return f"{head} node {node}" + "".join(f" {x}" for x in more)
    return head + " " + " ".join(str(x) for x in rest)
