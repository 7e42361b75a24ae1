"""Redis lists: the value class and the commands that read and change it.

A list is a `ListValue`, a `collections.deque` of bytes, so pushes and pops at either end
are O(1) and an index reaches an element from the nearer end (LINDEX, LSET; LRANGE walks
O(offset + count) from the nearer end). A list is never empty: the command that removes
its last element deletes the key, as Redis does.

Handlers take `(store, args, now_ms)` like every keyspace command. A handler checks every
argument and the bounds before its first change (COLLECTION_ELEMENTS_MAX elements per list;
the bytes of each element are checked before the log, see commands.py), so an error
changes nothing. A change to an existing list is made in place and reported to the store
with its inverse (`changed`), so a failing transaction can still roll it back.
The moving commands (LMOVE, RPOPLPUSH) are in listmoves.py.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from itertools import islice
from typing import TYPE_CHECKING

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.replies import (
    EMPTY_ARRAY,
    MUST_BE_POSITIVE,
    NO_SUCH_KEY,
    NOT_INTEGER,
    NULL,
    NULL_ARRAY,
    OK,
    SYNTAX,
    TOO_MANY,
    WRONGTYPE,
    ZERO,
    Array,
    Bulk,
    Bulks,
    Error,
    Int,
    Reply,
)
from sentinel.kvraft.limits import COLLECTION_ELEMENTS_MAX

if TYPE_CHECKING:
    from sentinel.kvraft.keyspace.store import Store

INDEX_RANGE = Error("ERR index out of range")
RANK_ZERO = Error(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
    "or use negative to start from the end of the list"
)
COUNT_NEGATIVE = Error("ERR COUNT can't be negative")
MAXLEN_NEGATIVE = Error("ERR MAXLEN can't be negative")


class ListValue(deque):  # type: ignore[type-arg]  # deque[bytes]; a class of its own for TYPE
    """A Redis list: a deque of bytes, never empty while stored."""

    __slots__ = ()

    @property
    def size_bytes(self) -> int:
        """The bytes of the elements (O(n): for a compaction's decision, not a hot path)."""
        return sum(map(len, self))


def changed(store: Store, key: bytes, value: object, undo: Callable[[], None]) -> None:
    """Record an in-place change of the collection `value` stored at `key`: the key is saved
    and its version moves on (a `put` of the same object), and `undo`, which reverses
    exactly that change, joins the undo log, so a rollback restores the contents without a
    copy of the collection."""
    store.put(key, value)  # type: ignore[arg-type]
    store.on_undo(undo)


def lookup_list(store: Store, key: bytes, now_ms: int) -> ListValue | Error | None:
    """The list at `key`, None if absent, or WRONGTYPE if it holds another type."""
    value = store.live(key, now_ms)
    if value is None or type(value) is ListValue:
        return value
    return WRONGTYPE


def bounds(start: int, stop: int, size: int) -> tuple[int, int]:
    """Redis's LRANGE/LTRIM/ZRANGE index rule: the half-open range [first, end) of the
    positions `start`..`stop` (negative counts from the end) select; empty if first >= end."""
    if start < 0:
        start = max(start + size, 0)
    if stop < 0:
        stop += size
    return start, min(stop, size - 1) + 1


def window(items: ListValue, first: int, end: int) -> list[bytes]:
    """items[first:end] walked from the nearer end: O(distance + count)."""
    if end <= first:
        return []
    if first <= len(items) - end:
        return list(islice(items, first, end))
    back = list(islice(reversed(items), len(items) - end, len(items) - first))
    back.reverse()
    return back


def push(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LPUSH / RPUSH / LPUSHX / RPUSHX key element [element ...] -> the new length."""
    key, items = args[1], args[2:]
    name = args[0].upper()
    current = lookup_list(store, key, now_ms)
    if isinstance(current, Error):
        return current
    if current is None:
        if name.endswith(b"X"):
            return ZERO
        if len(items) > COLLECTION_ELEMENTS_MAX:
            return TOO_MANY
        store.put(key, ListValue(reversed(items) if name[0:1] == b"L" else items), None)
        return Int(len(items))
    if len(current) + len(items) > COLLECTION_ELEMENTS_MAX:
        return TOO_MANY
    count = len(items)
    if name[0:1] == b"L":
        current.extendleft(items)
        changed(store, key, current, lambda: _drop(current.popleft, count))
    else:
        current.extend(items)
        changed(store, key, current, lambda: _drop(current.pop, count))
    return Int(len(current))


def _drop(pop: object, count: int) -> None:
    for _ in range(count):
        pop()  # type: ignore[operator]


def pop(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LPOP / RPOP key [count] -> one element (or nil), or an array of up to count."""
    if len(args) > 3:
        return Error(f"ERR wrong number of arguments for '{args[0].decode().lower()}' command")
    count = None
    if len(args) == 3:
        count = numbers.parse_int(args[2])
        if count is None or count < 0:
            return MUST_BE_POSITIVE
    current = lookup_list(store, args[1], now_ms)
    if isinstance(current, Error):
        return current
    if current is None:
        return NULL if count is None else NULL_ARRAY
    left = args[0].upper().startswith(b"L")
    taken = pop_items(store, args[1], current, left, 1 if count is None else count, now_ms)
    if count is None:
        return Bulk(taken[0])
    return Bulks(tuple(taken))


def pop_items(
    store: Store, key: bytes, items: ListValue, left: bool, count: int, now_ms: int
) -> list[bytes]:
    """Pop up to `count` elements of the stored list `items` from one end (deleting the key
    when it empties), logging the inverse; the elements in pop order."""
    count = min(count, len(items))
    take = items.popleft if left else items.pop
    taken = [take() for _ in range(count)]
    if taken:
        restore = items.extendleft if left else items.extend
        changed(store, key, items, lambda: restore(reversed(taken)))
        if not items:
            store.remove(key, now_ms)
    return taken


def llen(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LLEN key -> the number of elements (0 if absent)."""
    current = lookup_list(store, args[1], now_ms)
    if isinstance(current, Error):
        return current
    return Int(0 if current is None else len(current))


def _indexes(args: list[bytes]) -> tuple[int, int] | Error:
    start, stop = numbers.parse_int(args[2]), numbers.parse_int(args[3])
    if start is None or stop is None:
        return NOT_INTEGER
    return start, stop


def _span(
    store: Store, args: list[bytes], now_ms: int
) -> tuple[ListValue, int, int] | Error | None:
    """The list of LRANGE/LTRIM `key start stop` and the positions [first, end) they name;
    None without the list, or the error (indexes are checked before the key)."""
    indexes = _indexes(args)
    if isinstance(indexes, Error):
        return indexes
    current = lookup_list(store, args[1], now_ms)
    if current is None or isinstance(current, Error):
        return current
    return (current, *bounds(*indexes, len(current)))


def lrange(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LRANGE key start stop -> the elements from start to stop, both included."""
    span = _span(store, args, now_ms)
    if span is None or isinstance(span, Error):
        return EMPTY_ARRAY if span is None else span
    return Bulks(tuple(window(*span)))


def _with_number(
    store: Store, args: list[bytes], now_ms: int
) -> tuple[ListValue | None, int] | Error:
    """The list of `CMD key number ...` (None if absent) and the integer `number` (an index
    or a count), checked before the key as Redis does; or the error."""
    number = numbers.parse_int(args[2])
    if number is None:
        return NOT_INTEGER
    current = lookup_list(store, args[1], now_ms)
    return current if isinstance(current, Error) else (current, number)


def lindex(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LINDEX key index -> the element at index (negative from the end), or nil."""
    found = _with_number(store, args, now_ms)
    if isinstance(found, Error):
        return found
    current, index = found
    if current is None or not -len(current) <= index < len(current):
        return NULL
    return Bulk(current[index])


def lset(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LSET key index element -> OK; an error for a missing key or an index out of range."""
    found = _with_number(store, args, now_ms)
    if isinstance(found, Error):
        return found
    current, index = found
    if current is None:
        return NO_SUCH_KEY
    if not -len(current) <= index < len(current):
        return INDEX_RANGE
    old = current[index]
    current[index] = args[3]
    changed(store, args[1], current, lambda: current.__setitem__(index, old))
    return OK


def lrem(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LREM key count element -> how many were removed: the first count from the head
    (count > 0), from the tail (count < 0) or all of them (0)."""
    found = _with_number(store, args, now_ms)
    if isinstance(found, Error):
        return found
    current, count = found
    if current is None:
        return ZERO
    target, limit = args[3], abs(count) or len(current)
    kept: list[bytes] = []
    removed = 0
    for item in reversed(current) if count < 0 else current:
        if removed < limit and item == target:
            removed += 1
        else:
            kept.append(item)
    if removed:
        if count < 0:
            kept.reverse()
        replace(store, args[1], current, kept, now_ms)
    return Int(removed)


def replace(store: Store, key: bytes, current: ListValue, items: list[bytes], now_ms: int) -> None:
    """Make the stored list `current` hold `items` (deleting the key if none), logging
    the inverse (an O(n) copy: only for commands that are O(n) anyway)."""
    old = list(current)
    current.clear()
    current.extend(items)

    def undo() -> None:
        current.clear()
        current.extend(old)

    changed(store, key, current, undo)
    if not current:
        store.remove(key, now_ms)


def ltrim(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LTRIM key start stop -> OK; the list keeps only the elements from start to stop."""
    span = _span(store, args, now_ms)
    if span is None or isinstance(span, Error):
        return OK if span is None else span
    current, first, end = span
    if end <= first:
        first = end = len(current)
    head = [current.popleft() for _ in range(first)]
    tail = [current.pop() for _ in range(len(current) - (end - first))]
    if head or tail:

        def undo() -> None:
            current.extend(reversed(tail))
            current.extendleft(reversed(head))

        changed(store, args[1], current, undo)
        if not current:
            store.remove(args[1], now_ms)
    return OK


def linsert(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LINSERT key BEFORE|AFTER pivot element -> the new length, -1 without the pivot,
    0 without the key."""
    where = args[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        return SYNTAX
    current = lookup_list(store, args[1], now_ms)
    if isinstance(current, Error):
        return current
    if current is None:
        return ZERO
    try:
        index = current.index(args[3])
    except ValueError:
        return Int(-1)
    if len(current) >= COLLECTION_ELEMENTS_MAX:
        return TOO_MANY
    index += where == b"AFTER"
    current.insert(index, args[4])
    changed(store, args[1], current, lambda: current.__delitem__(index))
    return Int(len(current))


def _lpos_options(args: list[bytes]) -> tuple[int, int | None, int] | Error:
    """LPOS's RANK, COUNT (None: not given) and MAXLEN, checked as Redis checks them."""
    rank, count, maxlen = 1, None, 0
    for i in range(3, len(args), 2):
        word = args[i].upper()
        if i + 1 >= len(args):
            return SYNTAX
        value = numbers.parse_int(args[i + 1])
        if word not in (b"RANK", b"COUNT", b"MAXLEN"):
            return SYNTAX
        if value is None:
            return NOT_INTEGER
        if word == b"RANK":
            if value == 0:
                return RANK_ZERO
            if value == numbers.INT64_MIN:
                return Error(
                    "ERR value is out of range, value must between "
                    f"-{numbers.INT64_MAX} and {numbers.INT64_MAX}"
                )
            rank = value
        elif word == b"COUNT":
            if value < 0:
                return COUNT_NEGATIVE
            count = value
        else:
            if value < 0:
                return MAXLEN_NEGATIVE
            maxlen = value
    return rank, count, maxlen


def lpos(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """LPOS key element [RANK rank] [COUNT num] [MAXLEN len] -> the index of a match (nil
    if none), or with COUNT an array of up to num indexes (0: all)."""
    options = _lpos_options(args)
    if isinstance(options, Error):
        return options
    rank, count, maxlen = options
    current = lookup_list(store, args[1], now_ms)
    if isinstance(current, Error):
        return current
    if current is None:
        return NULL if count is None else EMPTY_ARRAY
    wanted, size = args[2], len(current)
    limit = maxlen or size
    skip, found = abs(rank) - 1, []
    order = reversed(current) if rank < 0 else current
    for offset, item in enumerate(islice(order, limit)):
        if item != wanted:
            continue
        if skip:
            skip -= 1
            continue
        found.append(size - 1 - offset if rank < 0 else offset)
        if count is None or len(found) == count:
            break
    if count is None:
        return Int(found[0]) if found else NULL
    return Array(tuple(Int(index) for index in found))
