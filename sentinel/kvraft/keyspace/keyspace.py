"""`Keyspace`: the deterministic Redis keyspace every replica applies from the log.

The replicated state machine hands each log entry's command to `apply` (or a MULTI/EXEC
block to `apply_batch`) with the entry's log time `now_ms` and random seed; the leader
uses `expired_keys` to find keys to delete through the log and logs `purge_expired`;
snapshots are `encode` / `decode`; WATCH reads `versions`.

Determinism: every result is a function of the state and the arguments. Nothing reads a
clock or the global `random` state, and no reply or state depends on the iteration order
of a set or dict filled in a different order elsewhere (KEYS sorts, SCAN sorts within its
buckets, snapshots sort). Log time never goes back: each call uses
`max(now_ms, the latest now_ms of an applied write)`, so a key once expired stays expired
even if a new leader's clock lags (the leader should stamp monotonic times anyway).

Totality: `apply`, `apply_batch` and `purge_expired` never raise. A command runs under the
store's undo log; if it raises (a bug), its changes are rolled back, the error is logged,
and the reply is an error: nothing is ever half applied. A transaction runs under one undo
log: if any of its commands raises, the whole transaction is rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

from sentinel.kvraft.keyspace import snapshot
from sentinel.kvraft.keyspace.commands import checked
from sentinel.kvraft.keyspace.replies import Error, Reply
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.values import Value, value_bytes

log = logging.getLogger(__name__)

#: The most commands one `apply_batch` (one EXEC) may hold.
BATCH_COMMANDS_MAX = 10_000
#: The most keys one `expired_keys` / `purge_expired` call handles.
PURGE_KEYS_MAX = 10_000

_SEED_STEP = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: spreads positions over 64 bits
_UINT64 = 2**64 - 1

INTERNAL_ERROR = "ERR internal error; the command was not applied"
ROLLED_BACK = "ERR internal error in the transaction; no command of it was applied"


def command_seed(entry_seed: int, position: int) -> int:
    """The randomness of the command at `position` of a log entry whose seed is
    `entry_seed`: the entry's own seed for the first (and a lone) command, a different one
    for each further command of a MULTI/EXEC block. The same on every replica."""
    return (entry_seed + position * _SEED_STEP) & _UINT64


class Keyspace:
    """A Redis keyspace (one database) of typed values with expiry and WATCH versions."""

    __slots__ = ("_store",)

    def __init__(self, store: Store | None = None) -> None:
        self._store = store if store is not None else Store()

    # -- commands -------------------------------------------------------------------------

    def apply(self, args: list[bytes], now_ms: int, rand_seed: int = 0) -> Reply:
        """Run one command (`args[0]` is its name, any case) at log time `now_ms`.
        `rand_seed` is the log entry's randomness for commands that need it (SPOP,
        SRANDMEMBER, HRANDFIELD read it as `store.rand_seed`). Never raises."""
        store = self._store
        now = self._now(now_ms)
        store.rand_seed = rand_seed
        store.begin()
        try:
            reply = self._run(args, now)
        except Exception:
            store.rollback()
            log.exception("keyspace command %r failed; rolled back", args[:1])
            return Error(INTERNAL_ERROR)
        store.commit()
        return reply

    def apply_batch(
        self,
        commands: Sequence[list[bytes]],
        now_ms: int,
        rand_seed: int = 0,
        watched: Mapping[bytes, int] | None = None,
    ) -> list[Reply] | None:
        """Run a MULTI/EXEC block as one unit at one log time.

        None (EXEC's null reply) and no change if a key of `watched` has a version other
        than the one the client saw at WATCH (`versions`). Otherwise one reply per command:
        a command that fails at run time answers its error in place and the others still
        apply (Redis's rule). If a command raises (a bug) or the block holds more than
        BATCH_COMMANDS_MAX commands, nothing is applied and every reply is an error.
        """
        store = self._store
        now = self._now(now_ms)
        if len(commands) > BATCH_COMMANDS_MAX:
            text = f"ERR a transaction holds at most {BATCH_COMMANDS_MAX} commands"
            return [Error(text)] * len(commands)
        if watched and any(store.version(k, now) != v for k, v in watched.items()):
            return None
        store.begin()
        try:
            replies = []
            for position, args in enumerate(commands):
                store.rand_seed = command_seed(rand_seed, position)
                replies.append(self._run(args, now))
        except Exception:
            store.rollback()
            log.exception("keyspace transaction failed; rolled back")
            return [Error(ROLLED_BACK)] * len(commands)
        store.commit()
        return replies

    def set_string(self, key: bytes, value: bytes, now_ms: int) -> None:
        """`SET key value` (no options) without parsing a command: the str API's Put, on
        the hot write path. The caller has checked the key's and value's sizes."""
        store = self._store
        if now_ms > store.now_floor_ms:
            store.now_floor_ms = now_ms
        store.put(key, value, None)

    def _run(self, args: list[bytes], now: int) -> Reply:
        spec = checked(args)
        if isinstance(spec, Error):
            return spec
        if spec.write and now > self._store.now_floor_ms:
            self._store.now_floor_ms = now
        return spec.handler(self._store, args, now)

    def _now(self, now_ms: int) -> int:
        return max(now_ms, self._store.now_floor_ms)

    # -- WATCH and expiry -----------------------------------------------------------------

    def versions(self, keys: Iterable[bytes], now_ms: int) -> dict[bytes, int]:
        """WATCH's versions of `keys` at `now_ms`: pass them back to `apply_batch`."""
        now = self._now(now_ms)
        return {key: self._store.version(key, now) for key in keys}

    def live(self, key: bytes, now_ms: int) -> Value | None:
        """The value of `key` at `now_ms` (None: absent or expired), without running a
        command: the str API's Get, on the hot read path."""
        return self._store.live(key, self._now(now_ms))

    @property
    def now_floor_ms(self) -> int:
        """The latest log time a write was applied at (log time never goes below it)."""
        return self._store.now_floor_ms

    def expired_keys(self, now_ms: int, limit: int) -> list[bytes]:
        """At most min(limit, PURGE_KEYS_MAX) keys expired at `now_ms`, earliest expiry
        (then key) first: what the leader logs a `purge_expired` of."""
        limit = max(0, min(limit, PURGE_KEYS_MAX))
        return self._store.expiry.due(self._now(now_ms), limit)

    def purge_expired(self, keys: Sequence[bytes], now_ms: int) -> int:
        """Delete those of `keys` that are expired at `now_ms` (a key set again since the
        leader listed it stays); the number deleted. Frees the memory of expired keys on
        every replica; no reply or version a client can see changes. Never raises."""
        store = self._store
        now = self._now(now_ms)
        store.now_floor_ms = now
        at_ms = store.expiry.at_ms
        store.begin()
        try:
            deleted = 0
            for key in keys[:PURGE_KEYS_MAX]:
                at = at_ms.get(key)
                if at is not None and now >= at:
                    store.remove(key, now)
                    deleted += 1
        except Exception:
            store.rollback()
            log.exception("purging expired keys failed; rolled back")
            return 0
        store.commit()
        return deleted

    # -- snapshots and inspection ---------------------------------------------------------

    def encode(self) -> bytes:
        """The snapshot of this keyspace (same state, same bytes)."""
        return snapshot.encode(self._store)

    @classmethod
    def decode(cls, data: bytes) -> Keyspace:
        """A keyspace restored from `encode`'s bytes; SnapshotError if they are not one."""
        return cls(snapshot.decode(data))

    def __len__(self) -> int:
        """The number of stored keys (expired ones not yet purged included)."""
        return len(self._store.data)

    def expiring(self) -> int:
        """The number of stored keys with a time to live (INFO's `expires`)."""
        return len(self._store.expiry.at_ms)

    def size_bytes(self) -> int:
        """About the bytes of the stored keys and values (O(keys): for a compaction's
        decision, not a hot path)."""
        return sum(len(key) + value_bytes(value) for key, value in self._store.data.items())

    def items(self) -> list[tuple[bytes, Value, int | None]]:
        """(key, value, expiry ms or None) of every stored key, in key order."""
        data, at_ms = self._store.data, self._store.expiry.at_ms
        return [(key, data[key], at_ms.get(key)) for key in sorted(data)]
