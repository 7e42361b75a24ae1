"""Redis's set commands on one or two keys over a `Store`, with Redis's replies and error
texts (src/t_set.c); the value is a `RedisSet` (members.py). Set algebra on many keys
(SINTER, SUNION, SDIFF and their STORE forms) is in setops.py.

Handlers take `(store, args, now_ms)` like those of strings.py, check everything that can
fail before their first change (so an error changes nothing), change a set in place through
the store's undo log, and delete a set that becomes empty. SPOP and SRANDMEMBER draw from
the command's generator (`typed.command_random`), seeded from the log entry, over the
set's dense order: every replica pops the same members.
"""

from __future__ import annotations

from sentinel.kvraft.keyspace.members import RedisSet
from sentinel.kvraft.keyspace.replies import (
    EMPTY_ARRAY,
    NULL,
    ONE,
    SYNTAX,
    WRONGTYPE,
    ZERO,
    Array,
    Bulk,
    Error,
    Int,
    Reply,
)
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.typed import (
    MUST_BE_POSITIVE,
    OUT_OF_RANGE,
    TOO_MANY,
    close_value,
    command_random,
    is_element,
    lookup,
    open_value,
    over_limit,
    parse_count,
    parse_random_count,
    remove_elements,
    repeats_too_many,
    scan_call,
)


def lookup_set(store: Store, key: bytes, now_ms: int) -> RedisSet | Error | None:
    """The set at `key`, None if absent, or WRONGTYPE."""
    return lookup(store, key, now_ms, RedisSet)


def open_set(store: Store, key: bytes, value: RedisSet | None) -> RedisSet:
    """The set at `key` ready for an in-place change (typed.open_value)."""
    return open_value(store, key, value, RedisSet)


def sadd(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SADD key member [member ...] -> how many members were new."""
    value = lookup_set(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    if len(args) == 3:  # the common case, without the general path's overhead
        new = [args[2]] if value is None or args[2] not in value else []
    else:
        new = [m for m in dict.fromkeys(args[2:]) if value is None or m not in value]
    if not new:
        return ZERO
    if over_limit(len(value or ()), len(new)):
        return TOO_MANY
    value = open_set(store, args[1], value)
    for member in new:
        value.add(member, store.on_undo)
    return Int(len(new))


def srem(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SREM key member [member ...] -> how many members were removed."""
    return remove_elements(store, args, now_ms, RedisSet)


def smembers(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SMEMBERS key -> every member (an array: the keyspace's replies have no set kind)."""
    value = lookup_set(store, args[1], now_ms)
    if value is None or isinstance(value, Error):
        return value or EMPTY_ARRAY
    return Array(tuple(map(Bulk, value)))


def sismember(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SISMEMBER key member -> 1 or 0."""
    return is_element(store, args, now_ms, RedisSet)


def smismember(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SMISMEMBER key member [member ...] -> 1 or 0 per member."""
    value = lookup_set(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    return Array(tuple(ONE if value and m in value else ZERO for m in args[2:]))


def scard(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SCARD key -> the number of members (0 for a missing key)."""
    value = lookup_set(store, args[1], now_ms)
    return value if isinstance(value, Error) else Int(len(value or ()))


def spop(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SPOP key [count]: remove and return one random member (or null), or `count`."""
    if len(args) > 3:
        return SYNTAX
    count = None if len(args) == 2 else parse_count(args[2])
    if isinstance(count, Error) or (count is not None and count < 0):
        return MUST_BE_POSITIVE  # Redis's text for a count that is not an integer too
    value = lookup_set(store, args[1], now_ms)
    if value is None or isinstance(value, Error):
        return value or (NULL if count is None else EMPTY_ARRAY)
    if count == 0:
        return EMPTY_ARRAY
    rng = command_random(store)
    if count is None:
        popped = [value.at(rng.randrange(len(value)))]
    elif count >= len(value):
        popped = value.members()
    else:
        popped = [value.at(p) for p in value.positions(rng, count, distinct=True)]
    open_set(store, args[1], value)
    for member in popped:
        value.discard(member, store.on_undo)
    close_value(store, args[1], value, now_ms)
    return Bulk(popped[0]) if count is None else Array(tuple(map(Bulk, popped)))


def srandmember(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SRANDMEMBER key [count]: one random member (or null), or `count` distinct ones (a
    negative count: |count| with repeats)."""
    if len(args) > 3:
        return SYNTAX
    count = None if len(args) == 2 else parse_random_count(args[2])
    if isinstance(count, Error):
        return count
    value = lookup_set(store, args[1], now_ms)
    if value is None or isinstance(value, Error):
        return value or (NULL if count is None else EMPTY_ARRAY)
    rng = command_random(store)
    if count is None:
        return Bulk(value.at(rng.randrange(len(value))))
    if repeats_too_many(count):
        return OUT_OF_RANGE
    positions = value.positions(rng, abs(count), distinct=count > 0)
    return Array(tuple(Bulk(value.at(p)) for p in positions))


def smove(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SMOVE source destination member -> 1 if moved, 0 if not a member of source."""
    source_key, target_key, member = args[1], args[2], args[3]
    source = lookup_set(store, source_key, now_ms)
    target = lookup_set(store, target_key, now_ms)
    if source is None:
        return ZERO  # before any type check, as Redis answers
    if isinstance(source, Error) or isinstance(target, Error):
        return WRONGTYPE
    if member not in source:
        return ZERO
    if source_key == target_key:
        return ONE
    adds = target is None or member not in target
    if adds and over_limit(len(target or ()), 1):
        return TOO_MANY
    open_set(store, source_key, source).discard(member, store.on_undo)
    close_value(store, source_key, source, now_ms)
    if adds:
        open_set(store, target_key, target).add(member, store.on_undo)
    return ONE


def sscan(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor, members]."""
    found = scan_call(store, args, now_ms, RedisSet)
    if not isinstance(found, tuple):
        return found
    value, cursor, positions = found
    items = tuple(Bulk(value.at(p)) for p in positions)
    return Array((Bulk(str(cursor).encode()), Array(items)))
