"""The SCAN index: keys spread over a fixed number of buckets by a stable hash.

A SCAN cursor is a bucket number. A call returns every key of the buckets it visits (each
bucket's keys in byte order) and the next bucket as the cursor; 0 when it reached the end.
So, as Redis promises, a key present from the start to the end of a full iteration is
returned at least once, keys are never returned in a broken order, and the cursor is a
plain integer that stays valid across calls, leader changes and snapshots: the bucket of a
key is `crc32(key) % SCAN_BUCKETS` on every replica (Python's `hash` of bytes differs per
process, so it is not used).

Bounds: a call returns the keys of whole buckets until it has `count` keys, so a little
more than `count`; it walks at most SCAN_BUCKETS buckets (a list walk of well under a
millisecond), so a small keyspace comes back whole from `SCAN 0`, as from Redis.
"""

from __future__ import annotations

from dataclasses import dataclass
from zlib import crc32

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.replies import INVALID_CURSOR, NOT_INTEGER, SYNTAX, Error

SCAN_BUCKETS = 1 << 14
_MASK = SCAN_BUCKETS - 1


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """The parsed arguments of SCAN, HSCAN, SSCAN (and ZSCAN)."""

    cursor: int
    count: int = 10
    pattern: bytes | None = None
    type_name: bytes | None = None  # SCAN's TYPE option (the others refuse it)


def parse_scan(args: list[bytes], cursor_at: int, allow_type: bool) -> ScanOptions | Error:
    """`cursor [MATCH pattern] [COUNT count]` (and `[TYPE type]` if `allow_type`) from
    `args[cursor_at]` on, with Redis's errors."""
    cursor = numbers.parse_int(args[cursor_at])
    if cursor is None or cursor < 0:
        return INVALID_CURSOR
    count, pattern, type_name = 10, None, None
    i = cursor_at + 1
    while i < len(args):
        word = args[i].upper()
        if i + 1 >= len(args):
            return SYNTAX
        if word == b"COUNT":
            parsed = numbers.parse_int(args[i + 1])
            if parsed is None:
                return NOT_INTEGER
            if parsed < 1:
                return SYNTAX
            count = parsed
        elif word == b"MATCH":
            pattern = args[i + 1]
        elif word == b"TYPE" and allow_type:
            type_name = args[i + 1]
        else:
            return SYNTAX
        i += 2
    return ScanOptions(cursor, count, pattern, type_name)


class ScanIndex:
    """The keys of a keyspace grouped by bucket."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: list[set[bytes] | None] = [None] * SCAN_BUCKETS

    @classmethod
    def of(cls, keys: list[bytes]) -> ScanIndex:
        """An index of `keys` (one flat loop: a restore builds it for every key)."""
        index = cls()
        buckets = index._buckets
        for key, hashed in zip(keys, map(crc32, keys), strict=True):
            bucket = buckets[hashed & _MASK]
            if bucket is None:
                buckets[hashed & _MASK] = {key}
            else:
                bucket.add(key)
        return index

    def add(self, key: bytes) -> None:
        """Index `key` (idempotent)."""
        index = crc32(key) & _MASK
        bucket = self._buckets[index]
        if bucket is None:
            self._buckets[index] = {key}
        else:
            bucket.add(key)

    def discard(self, key: bytes) -> None:
        """Forget `key` if indexed."""
        index = crc32(key) & _MASK
        bucket = self._buckets[index]
        if bucket is not None:
            bucket.discard(key)
            if not bucket:
                self._buckets[index] = None

    def clear(self) -> None:
        """Forget every key."""
        self._buckets = [None] * SCAN_BUCKETS

    def scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        """From bucket `cursor`: the keys of whole buckets until at least `count` keys, and
        the next cursor (0 at the end)."""
        found: list[bytes] = []
        buckets = self._buckets
        index = cursor
        while index < SCAN_BUCKETS and len(found) < count:
            bucket = buckets[index]
            if bucket is not None:
                found.extend(sorted(bucket))
            index += 1
        return (0 if index >= SCAN_BUCKETS else index), found
