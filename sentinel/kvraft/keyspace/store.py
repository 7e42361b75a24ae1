"""The keyspace's state and the only functions that change it.

State (all of it is in a snapshot, so replicas restored from one agree with the rest):

- `data`: key -> value (see values.py); `expiry`: key -> expiry time (expiry.py);
  the SCAN buckets (scan.py), holding exactly the keys of `data`: built from `data` at the
  first SCAN (`scan_index`), so a restore does not pay for it, and kept up to date after.
- `versions`, `tombstones`, `floor`, `clock`: WATCH's modification counters. `clock` counts
  changes; each change of a key stamps it with a fresh `clock` value. A live key's version
  is its stamp, a key that is expired but not yet deleted reads as minus its stamp (so an
  expiry counts as a change, and deleting an expired key does not change it again), a
  deleted key reads as its tombstone's stamp, and a key with no tombstone reads as
  `floor`. Tombstones are bounded (TOMBSTONES_MAX, oldest dropped first); dropping one,
  and FLUSHALL, moves `floor` to a fresh value. So a key's version changes whenever the
  key does (and, rarely, when it did not: then an EXEC aborts that Redis would have run,
  never the other way round).
- `now_floor_ms`: the latest log time a write was applied at; log time never goes back
  below it (see `Keyspace`).

Every change goes through `put`, `remove`, `set_expiry`, `clear` (and, inside a collection
value, through `on_undo`): each first saves what it overwrites (or the inverse of the change)
in the undo log while one is open (`begin`), so `rollback` restores every key's
value, expiry and version, the tombstones' eviction order and the counters when a command or
a transaction fails half way: the state after a rollback encodes to the same bytes as before.
"""

from __future__ import annotations

from collections.abc import Callable

from sentinel.kvraft.keyspace.expiry import ExpiryIndex
from sentinel.kvraft.keyspace.scan import ScanIndex
from sentinel.kvraft.keyspace.values import Value

TOMBSTONES_MAX = 10_000
_ABSENT = object()

#: What the undo log saved of one key: value, expiry, version, tombstone (None = absent).
_Saved = tuple[Value | None, int | None, int | None, int | None]


class Store:
    """The mutable state of a keyspace (see the module docstring for its invariants)."""

    __slots__ = (
        "_saved",
        "_scan",
        "_tomb_order",
        "_undo",
        "_undo_scalars",
        "clock",
        "data",
        "expiry",
        "floor",
        "now_floor_ms",
        "rand_seed",
        "tombstones",
        "versions",
    )

    def __init__(self) -> None:
        self.data: dict[bytes, Value] = {}
        self.expiry = ExpiryIndex()
        self._scan: ScanIndex | None = None
        self.versions: dict[bytes, int] = {}
        self.tombstones: dict[bytes, int] = {}
        self.clock = 0
        self.floor = 0
        self.now_floor_ms = 0
        #: The randomness of the command being applied (set by `Keyspace` per command from
        #: the log entry's seed; SPOP and the like seed `random.Random` with it). Not state.
        self.rand_seed = 0
        self._saved: set[bytes] | None = None  # keys saved since `begin` or the last clear
        self._undo: list[tuple[bytes, _Saved] | Callable[[], None]] = []
        self._undo_scalars: tuple[int, int, int] = (0, 0, 0)
        #: The tombstones' eviction order at `begin`, taken when a change first touches a
        #: tombstone (so a command that touches none copies nothing); None until then.
        self._tomb_order: tuple[bytes, ...] | None = None

    # -- reading ------------------------------------------------------------------------

    def scan_index(self) -> ScanIndex:
        """The SCAN buckets of the stored keys (built on first use)."""
        if self._scan is None:
            self._scan = ScanIndex.of(list(self.data))
        return self._scan

    def live(self, key: bytes, now_ms: int) -> Value | None:
        """The value of `key` at `now_ms`, or None if absent or expired."""
        value = self.data.get(key)
        if value is None:
            return None
        at = self.expiry.at_ms.get(key)
        if at is not None and now_ms >= at:
            return None
        return value

    def version(self, key: bytes, now_ms: int) -> int:
        """WATCH's version of `key` at `now_ms` (changes whenever the key does)."""
        stamp = self.versions.get(key)
        if stamp is not None:
            at = self.expiry.at_ms.get(key)
            return -stamp if at is not None and now_ms >= at else stamp
        stamp = self.tombstones.get(key)
        return self.floor if stamp is None else stamp

    # -- changing -----------------------------------------------------------------------

    def put(self, key: bytes, value: Value, expire_at_ms: object = _ABSENT) -> None:
        """Store `value` at `key`; its expiry becomes `expire_at_ms` (None: persistent), or
        stays as it is when the argument is left out (KEEPTTL)."""
        if self._saved is not None:  # (in a transaction; a call per write saved outside)
            self._save(key)
        if key not in self.data:
            if self._scan is not None:
                self._scan.add(key)
            self.tombstones.pop(key, None)
        self.data[key] = value
        if expire_at_ms is None:
            if key in self.expiry.at_ms:  # (most keys have no expiry: no call for them)
                self.expiry.remove(key)
        elif expire_at_ms is not _ABSENT:
            self.expiry.set(key, expire_at_ms)  # type: ignore[arg-type]  # an int
        self.clock += 1
        self.versions[key] = self.clock

    def set_expiry(self, key: bytes, expire_at_ms: int | None) -> None:
        """Change the expiry of an existing key (None: make it persistent)."""
        self._save(key)
        if expire_at_ms is None:
            self.expiry.remove(key)
        else:
            self.expiry.set(key, expire_at_ms)
        self.clock += 1
        self.versions[key] = self.clock

    def remove(self, key: bytes, now_ms: int) -> bool:
        """Delete `key` if stored (expired or not); True if it was live at `now_ms`."""
        if key not in self.data:
            return False
        was_live = self.live(key, now_ms) is not None
        self._save(key)
        del self.data[key]
        if self._scan is not None:
            self._scan.discard(key)
        self.expiry.remove(key)
        stamp = self.versions.pop(key)
        if was_live:
            self.clock += 1
            stamp = self.clock
        else:
            stamp = -stamp  # it already read as changed when it expired
        self.tombstones[key] = stamp
        if len(self.tombstones) > TOMBSTONES_MAX:
            oldest = next(iter(self.tombstones))
            self._save(oldest)
            del self.tombstones[oldest]
            self.clock += 1
            self.floor = self.clock
        return was_live

    def clear(self) -> None:
        """Delete every key (FLUSHALL); every key's version changes."""
        old = (self.data, self.expiry, self._scan, self.versions, self.tombstones)
        if self._saved is not None and self._tomb_order is None:
            self._tomb_order = tuple(self.tombstones)  # the order at `begin`, for rollback
        self.data, self.expiry, self._scan = {}, ExpiryIndex(), None
        self.versions, self.tombstones = {}, {}
        self.clock += 1
        self.floor = self.clock
        if self._saved is not None:
            self._undo.append(lambda: self._restore_all(old))
            self._saved = set()  # keys changed from now on are saved again, from the empty state

    def on_undo(self, undo: Callable[[], None]) -> None:
        """Record `undo`, the inverse of an in-place change of a stored value, while an undo
        log is open. A command changing a collection in place first `put`s the key (which
        saves it and changes its version), then passes this to each change."""
        if self._saved is not None:
            self._undo.append(undo)

    # -- the undo log -------------------------------------------------------------------

    def begin(self) -> None:
        """Open an undo log: every change from now on can be reversed by `rollback`."""
        self._saved = set()
        self._undo = []
        self._undo_scalars = (self.clock, self.floor, self.now_floor_ms)
        self._tomb_order = None

    def commit(self) -> None:
        """Keep the changes and close the undo log."""
        self._saved = None
        self._undo = []
        self._tomb_order = None

    def rollback(self) -> None:
        """Reverse every change since `begin`, newest first, and close the undo log."""
        undo = self._undo
        self._saved = None
        self._undo = []
        for entry in reversed(undo):
            if callable(entry):
                entry()
            else:
                key, (value, at, stamp, tomb) = entry
                self._restore(key, value, at, stamp, tomb)
        order, self._tomb_order = self._tomb_order, None
        if order is not None:  # restored tombstones joined the newest end: reorder
            # `order` may name tombstones made in this log before it was taken (the restore
            # removed them); every tombstone of `begin` is in it, in its place.
            tombstones = self.tombstones
            ordered = {key: tombstones[key] for key in order if key in tombstones}
            ordered.update(tombstones)  # none should be left; kept at the end if one is
            self.tombstones = ordered
        self.clock, self.floor, self.now_floor_ms = self._undo_scalars

    def _save(self, key: bytes) -> None:
        saved = self._saved
        if saved is not None and key not in saved:
            saved.add(key)
            tomb = self.tombstones.get(key)
            if tomb is not None and self._tomb_order is None:
                self._tomb_order = tuple(self.tombstones)
            old = (self.data.get(key), self.expiry.at_ms.get(key), self.versions.get(key), tomb)
            self._undo.append((key, old))

    def _restore(
        self, key: bytes, value: Value | None, at: int | None, stamp: int | None, tomb: int | None
    ) -> None:
        if value is None:
            self.data.pop(key, None)
            if self._scan is not None:
                self._scan.discard(key)
        else:
            self.data[key] = value
            if self._scan is not None:
                self._scan.add(key)
        if at is None:
            self.expiry.remove(key)
        else:
            self.expiry.set(key, at)
        for table, old in ((self.versions, stamp), (self.tombstones, tomb)):
            if old is None:
                table.pop(key, None)
            else:
                table[key] = old

    def _restore_all(self, old: tuple) -> None:  # type: ignore[type-arg]
        self.data, self.expiry, self._scan, self.versions, self.tombstones = old
