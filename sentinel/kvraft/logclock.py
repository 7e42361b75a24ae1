"""Log time on the leader: the stamp every proposed entry carries, the time reads use, and
the purges of expired keys.

- `stamp_ms()`: the wall clock in ms, but never below an earlier stamp: this node's last
  one, or the highest stamp applied (which covers every earlier leader's committed
  entries). So log time is monotonic across leader changes even when a new leader's clock
  lags; the keyspace also never goes below its latest write's time.
- `read_ms()`: a linearizable read's time, max(wall clock, highest stamp applied): a key
  expired in log time reads as absent at once.
- `purge_due(now_s, is_leader)`: every PURGE_INTERVAL_S, when this node leads and the
  previous purge has applied, the next `Purge` of at most PURGE_BATCH_KEYS_MAX expired keys
  (None: nothing to do). Bounded work per entry; memory comes back on every replica.

The wall clock is a parameter (`wall_ms`) so tests drive it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sentinel.kvraft.commands import Purge
from sentinel.kvraft.statemachine import KVStateMachine

#: How often a leader looks for expired keys to purge, and the most keys one Purge holds
#: (an entry of at most ~1 MB even with the longest keys).
PURGE_INTERVAL_S = 0.1
PURGE_BATCH_KEYS_MAX = 1000


def wall_ms() -> int:
    """The wall clock in ms (expiry is by log time, stamped from this on the leader)."""
    return time.time_ns() // 1_000_000


class LogClock:
    """A node's stamps and purges for the state machine `sm` (see the module docstring)."""

    __slots__ = ("_wall_ms", "last_stamp_ms", "purge_pending", "purge_sent_s", "purges", "sm")

    def __init__(self, sm: KVStateMachine, wall: Callable[[], int] = wall_ms) -> None:
        self.sm = sm
        self._wall_ms = wall
        self.last_stamp_ms = 0  # the highest stamp this node gave
        self.purge_pending: int | None = None  # the index of the Purge in flight
        self.purge_sent_s = -PURGE_INTERVAL_S
        self.purges = 0  # Purges proposed

    def stamp_ms(self) -> int:
        """The stamp of a new entry (never below an earlier stamp)."""
        stamp = max(self._wall_ms(), self.sm.last_stamp_ms, self.last_stamp_ms)
        self.last_stamp_ms = stamp
        return stamp

    def read_ms(self) -> int:
        """The log time a read served now uses."""
        return self.sm.read_time_ms(self._wall_ms())

    def purge_due(self, now_s: float, is_leader: bool) -> Purge | None:
        """The Purge to propose now, if any (then call `purge_proposed`)."""
        if not is_leader or self.purge_pending is not None:
            return None
        if now_s - self.purge_sent_s < PURGE_INTERVAL_S:
            return None
        self.purge_sent_s = now_s
        keys = self.sm.expired_keys(self.read_ms(), PURGE_BATCH_KEYS_MAX)
        return Purge(tuple(keys)) if keys else None

    def purge_proposed(self, index: int) -> None:
        """The Purge went into the log at `index`: no other until it applies."""
        self.purge_pending = index
        self.purges += 1

    def applied(self, index: int) -> None:
        """The entry at `index` applied (or a snapshot covers it)."""
        if self.purge_pending is not None and index >= self.purge_pending:
            self.purge_pending = None

    def lost_leadership(self) -> None:
        """This node stopped leading: its purge may never apply; the next leader purges."""
        self.purge_pending = None
