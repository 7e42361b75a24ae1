"""What the commands of the collection types share: typed lookups, the element bound,
counts, the command's random generator and HSCAN/SSCAN's cursor over a collection.

Cursors of HSCAN/SSCAN: a collection of at most SCAN_WHOLE_MAX elements comes back whole
from any call, with cursor 0 (Redis does the same for its small encodings). A larger one is
walked by bucket: an element's bucket is `crc32(element) % MEMBER_SCAN_BUCKETS`, fixed for
the element's life, and the cursor is the next bucket; so, as Redis promises, an element
present for a whole iteration is returned at least once, whatever else changes between
calls. One call costs O(elements) (it reads every element's bucket): COUNT is a hint.
"""

from __future__ import annotations

import random
from collections.abc import Sequence, Sized
from typing import TypeVar
from zlib import crc32

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.glob import matcher
from sentinel.kvraft.keyspace.replies import (
    EMPTY_ARRAY,
    INVALID_CURSOR,
    NOT_INTEGER,
    ONE,
    WRONGTYPE,
    ZERO,
    Array,
    Bulk,
    Error,
    Int,
    Reply,
)
from sentinel.kvraft.keyspace.scan import ScanOptions, parse_scan
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.limits import COLLECTION_ELEMENTS_MAX

T = TypeVar("T")

SCAN_WHOLE_MAX = 128
MEMBER_SCAN_BUCKETS = 1 << 16

TOO_MANY = Error(f"ERR a collection holds at most {COLLECTION_ELEMENTS_MAX} elements")
OUT_OF_RANGE = Error("ERR value is out of range")
MUST_BE_POSITIVE = Error("ERR value is out of range, must be positive")
COUNT_RANGE = Error(
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)
#: The largest |count| of HRANDFIELD ... WITHVALUES (Redis's LONG_MAX/2 bound).
WITH_VALUES_MAX = numbers.INT64_MAX // 2


def lookup(store: Store, key: bytes, now_ms: int, cls: type[T]) -> T | Error | None:
    """The value of type `cls` at `key`, None if absent, or WRONGTYPE."""
    value = store.live(key, now_ms)
    if value is None or type(value) is cls:
        return value  # type: ignore[return-value]
    return WRONGTYPE


def open_value(store: Store, key: bytes, value: T | None, cls: type[T]) -> T:
    """The collection at `key` made ready for an in-place change (a new `cls()` if None):
    the key is saved in the undo log and its version changes (WATCH sees it)."""
    if value is None:
        value = cls()
        store.put(key, value, None)  # type: ignore[arg-type]
    else:
        store.put(key, value)  # type: ignore[arg-type]  # the same object, the expiry kept
    return value


def close_value(store: Store, key: bytes, value: Sized, now_ms: int) -> None:
    """Delete the key of a collection that became empty (Redis keeps no empty one)."""
    if not len(value):
        store.remove(key, now_ms)


def remove_elements(store: Store, args: list[bytes], now_ms: int, cls: type) -> Reply:
    """HDEL / SREM key element [element ...] -> how many were removed (the key goes with
    the last one)."""
    value = lookup(store, args[1], now_ms, cls)
    if value is None or isinstance(value, Error):
        return value or ZERO
    if not any(element in value for element in args[2:]):
        return ZERO
    open_value(store, args[1], value, cls)
    removed = sum(value.discard(element, store.on_undo) for element in args[2:])
    close_value(store, args[1], value, now_ms)
    return Int(removed)


def is_element(store: Store, args: list[bytes], now_ms: int, cls: type) -> Reply:
    """HEXISTS / SISMEMBER key element -> 1 or 0."""
    value = lookup(store, args[1], now_ms, cls)
    if value is None or isinstance(value, Error):
        return value or ZERO
    return ONE if args[2] in value else ZERO


def over_limit(size: int, added: int) -> bool:
    """Whether a collection of `size` elements may not grow by `added`."""
    return size + added > COLLECTION_ELEMENTS_MAX


def parse_count(text: bytes) -> int | Error:
    """A count argument (a signed 64-bit integer)."""
    count = numbers.parse_int(text)
    return NOT_INTEGER if count is None else count


def parse_random_count(text: bytes) -> int | Error:
    """The count of SRANDMEMBER / HRANDFIELD: an integer in [-INT64_MAX, INT64_MAX]."""
    count = parse_count(text)
    return COUNT_RANGE if count == numbers.INT64_MIN else count


def repeats_too_many(count: int) -> bool:
    """Whether a pick of |count| members with repeats (a negative count) is refused (with
    OUT_OF_RANGE): its reply would hold more than COLLECTION_ELEMENTS_MAX members, which
    Redis would try to send but a replicated reply must not hold."""
    return count < -COLLECTION_ELEMENTS_MAX


def command_random(store: Store) -> random.Random:
    """The generator of the command being applied, seeded from its log entry."""
    return random.Random(store.rand_seed)


def scan_call(
    store: Store, args: list[bytes], now_ms: int, cls: type[T]
) -> tuple[T, int, list[int]] | Reply:
    """HSCAN / SSCAN key cursor [MATCH pattern] [COUNT count]: the collection, the next
    cursor and the positions to answer; or the whole reply (an error, or the empty scan of
    a missing key: Redis reads the options only of an existing key)."""
    options = parse_scan(args, 2, allow_type=False)
    if options is INVALID_CURSOR:
        return options
    value = lookup(store, args[1], now_ms, cls)
    if isinstance(value, Error):
        return value
    if value is None:
        return Array((Bulk(b"0"), EMPTY_ARRAY))
    if isinstance(options, Error):
        return options
    cursor, positions = scan_positions(value.members(), options)  # type: ignore[attr-defined]
    return value, cursor, positions


def scan_positions(elements: Sequence[bytes], options: ScanOptions) -> tuple[int, list[int]]:
    """The next cursor and the positions (in `elements`) a scan call returns."""
    match = matcher(options.pattern) if options.pattern is not None else None
    if len(elements) <= SCAN_WHOLE_MAX:
        chosen = range(len(elements))
        cursor = 0
    else:
        cursor, chosen = _bucket_walk(elements, options.cursor, options.count)
    if match is None:
        return cursor, list(chosen)
    return cursor, [i for i in chosen if match(elements[i])]


def _bucket_walk(elements: Sequence[bytes], start: int, count: int) -> tuple[int, list[int]]:
    """Whole buckets from `start` on until at least `count` elements."""
    buckets: dict[int, list[int]] = {}
    for position, element in enumerate(elements):
        bucket = crc32(element) % MEMBER_SCAN_BUCKETS
        if bucket >= start:
            buckets.setdefault(bucket, []).append(position)
    chosen: list[int] = []
    for bucket in sorted(buckets):
        if len(chosen) >= count:
            return bucket, chosen
        chosen.extend(sorted(buckets[bucket], key=elements.__getitem__))
    return 0, chosen
