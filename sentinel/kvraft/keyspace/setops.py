"""Redis's set algebra over a `Store`: SINTER, SINTERCARD, SUNION, SDIFF and the STORE
forms, with Redis's replies and error texts (src/t_set.c).

Every key is checked before anything is computed: one key of another type answers
WRONGTYPE even after a missing one (a missing key is an empty set). Results come out in a
deterministic order (the first set's dense order, or first occurrence for a union). A
STORE form replaces the destination whatever it held (its expiry goes), deletes it when the
result is empty, and refuses a result over COLLECTION_ELEMENTS_MAX, changing nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.members import RedisSet
from sentinel.kvraft.keyspace.replies import SYNTAX, Array, Bulk, Error, Int, Reply
from sentinel.kvraft.keyspace.sets import lookup_set
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.typed import TOO_MANY, over_limit

NUMKEYS = Error("ERR numkeys should be greater than 0")
NUMKEYS_ARGS = Error("ERR Number of keys can't be greater than number of args")
LIMIT_NEGATIVE = Error("ERR LIMIT can't be negative")

_EMPTY = RedisSet()


def _sets(store: Store, keys: Sequence[bytes], now_ms: int) -> list[RedisSet] | Error:
    """The sets at `keys` (an empty one for a missing key), or WRONGTYPE."""
    found = []
    for key in keys:
        value = lookup_set(store, key, now_ms)
        if isinstance(value, Error):
            return value
        found.append(_EMPTY if value is None else value)
    return found


def _inter(sets: list[RedisSet], limit: int = 0) -> list[bytes]:
    """The members of every set, in the smallest set's order (at most `limit` if > 0)."""
    smallest = min(sets, key=len)
    others = [s for s in sets if s is not smallest]
    found = []
    for member in smallest:
        if all(member in other for other in others):
            found.append(member)
            if len(found) == limit:
                break
    return found


def _union(sets: list[RedisSet]) -> list[bytes]:
    """The members of any set, in order of first occurrence."""
    seen: dict[bytes, None] = {}
    for value in sets:
        seen.update(dict.fromkeys(value))
    return list(seen)


def _diff(sets: list[RedisSet]) -> list[bytes]:
    """The members of the first set that are in none of the others."""
    first, others = sets[0], sets[1:]
    return [m for m in first if not any(m in other for other in others)]


_OPERATIONS = {b"SINTER": _inter, b"SUNION": _union, b"SDIFF": _diff}


def combine(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SINTER / SUNION / SDIFF key [key ...] -> the members of the result."""
    sets = _sets(store, args[1:], now_ms)
    if isinstance(sets, Error):
        return sets
    return Array(tuple(map(Bulk, _OPERATIONS[args[0].upper()](sets))))


def combine_store(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key [key ...] -> the size of
    the result now stored at destination."""
    sets = _sets(store, args[2:], now_ms)
    if isinstance(sets, Error):
        return sets
    members = _OPERATIONS[args[0].upper().removesuffix(b"STORE")](sets)
    if over_limit(0, len(members)):
        return TOO_MANY
    target = args[1]
    if members:
        store.put(target, RedisSet(members), None)
    else:
        store.remove(target, now_ms)
    return Int(len(members))


def sintercard(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SINTERCARD numkeys key [key ...] [LIMIT limit] -> the size of the intersection
    (counting stops at `limit` when it is positive)."""
    numkeys = numbers.parse_int(args[1])
    if numkeys is None or numkeys < 1:
        return NUMKEYS
    if numkeys > len(args) - 2:
        return NUMKEYS_ARGS
    limit = 0
    i = 2 + numkeys
    while i < len(args):
        if args[i].upper() != b"LIMIT" or i + 1 >= len(args):
            return SYNTAX
        parsed = numbers.parse_int(args[i + 1])
        if parsed is None or parsed < 0:
            return LIMIT_NEGATIVE
        limit = parsed
        i += 2
    sets = _sets(store, args[2 : 2 + numkeys], now_ms)
    if isinstance(sets, Error):
        return sets
    return Int(len(_inter(sets, limit)))
