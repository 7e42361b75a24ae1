"""Redis's generic key commands over a `Store`: deletion, existence, types, KEYS/SCAN,
renames, expiry and TTLs, DBSIZE and FLUSH.

Handlers take `(store, args, now_ms)` like those of strings.py. Expiry times are absolute
milliseconds of log time; an EXPIRE whose time is not after `now_ms` deletes the key (and
answers 1), as Redis does. DBSIZE counts keys that are expired but not yet deleted, as
Redis's does; every other command treats such a key as absent.
"""

from __future__ import annotations

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.glob import matcher
from sentinel.kvraft.keyspace.replies import (
    NO_SUCH_KEY,
    NOT_INTEGER,
    OK,
    ONE,
    SYNTAX,
    ZERO,
    Array,
    Bulk,
    Error,
    Int,
    Reply,
    Simple,
    expire_error,
)
from sentinel.kvraft.keyspace.scan import parse_scan
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.values import TYPE_BY_NAME, type_name, type_tag

_NONE = Simple("none")
_EXPIRE = {  # command -> (ms per unit, relative to now?)
    b"EXPIRE": (1000, True),
    b"PEXPIRE": (1, True),
    b"EXPIREAT": (1000, False),
    b"PEXPIREAT": (1, False),
}
_TTL = {  # command -> (answer in ms?, absolute time?)
    b"TTL": (False, False),
    b"PTTL": (True, False),
    b"EXPIRETIME": (False, True),
    b"PEXPIRETIME": (True, True),
}


def delete(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """DEL / UNLINK key [key ...] -> how many live keys were deleted."""
    return Int(sum(store.remove(key, now_ms) for key in args[1:]))


def exists(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """EXISTS key [key ...] -> how many of the keys exist (a repeated key counts again)."""
    return Int(sum(store.live(key, now_ms) is not None for key in args[1:]))


def type_(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """TYPE key -> "string", ... or "none"."""
    value = store.live(args[1], now_ms)
    return _NONE if value is None else Simple(type_name(value))


def keys(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """KEYS pattern -> the live keys matching the glob, in byte order."""
    match = matcher(args[1])
    live = store.live
    found = sorted(key for key in store.data if match(key) and live(key, now_ms) is not None)
    return Array(tuple(Bulk(key) for key in found))


def scan(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SCAN cursor [MATCH pattern] [COUNT count] [TYPE type] -> [next cursor, keys]."""
    options = parse_scan(args, 1, allow_type=True)
    if isinstance(options, Error):
        return options
    wanted = None
    if options.type_name is not None:
        wanted = TYPE_BY_NAME.get(options.type_name.lower())
        if wanted is None:
            name = options.type_name.decode("utf-8", "replace")
            return Error(f"ERR unknown type name '{name}'")
    pattern = options.pattern
    next_cursor, found = store.scan_index().scan(options.cursor, options.count)
    match = matcher(pattern) if pattern is not None else None
    items = []
    for key in found:
        value = store.live(key, now_ms)
        if value is None or (match is not None and not match(key)):
            continue
        if wanted is not None and type_tag(value) != wanted:
            continue
        items.append(Bulk(key))
    return Array((Bulk(str(next_cursor).encode()), Array(tuple(items))))


def rename(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """RENAME / RENAMENX source destination: the value and its expiry move."""
    source, target = args[1], args[2]
    value = store.live(source, now_ms)
    if value is None:
        return NO_SUCH_KEY
    only_new = args[0].upper() == b"RENAMENX"
    if source == target:
        return ZERO if only_new else OK
    if only_new and store.live(target, now_ms) is not None:
        return ZERO
    at = store.expiry.at_ms.get(source)
    store.remove(target, now_ms)
    store.remove(source, now_ms)
    store.put(target, value, at)
    return ONE if only_new else OK


def _expire_flags(args: list[bytes]) -> set[bytes] | Error:
    flags: set[bytes] = set()
    for arg in args[3:]:
        word = arg.upper()
        if word not in (b"NX", b"XX", b"GT", b"LT"):
            return Error(f"ERR Unsupported option {arg.decode('utf-8', 'replace')}")
        flags.add(word)
    if b"NX" in flags and len(flags) > 1:
        return Error("ERR NX and XX, GT or LT options at the same time are not compatible")
    if b"GT" in flags and b"LT" in flags:
        return Error("ERR GT and LT options at the same time are not compatible")
    return flags


def expire(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time [NX|XX|GT|LT] -> 1 if set."""
    name = args[0].upper()
    flags = _expire_flags(args)
    if isinstance(flags, Error):
        return flags
    amount = numbers.parse_int(args[2])
    if amount is None:
        return NOT_INTEGER
    unit, relative = _EXPIRE[name]
    base = now_ms if relative else 0
    when = amount * unit
    if not numbers.INT64_MIN <= when <= numbers.INT64_MAX - base:
        return expire_error(name.lower().decode())
    when += base
    key = args[1]
    if store.live(key, now_ms) is None:
        return ZERO
    current = store.expiry.at_ms.get(key)  # None: no expiry, an infinite TTL
    if b"NX" in flags and current is not None:
        return ZERO
    if b"XX" in flags and current is None:
        return ZERO
    if b"GT" in flags and (current is None or when <= current):
        return ZERO
    if b"LT" in flags and current is not None and when >= current:
        return ZERO
    if when <= now_ms:
        store.remove(key, now_ms)
    else:
        store.set_expiry(key, when)
    return ONE


def ttl(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """TTL / PTTL / EXPIRETIME / PEXPIRETIME key: -2 if absent, -1 if persistent."""
    in_ms, absolute = _TTL[args[0].upper()]
    key = args[1]
    if store.live(key, now_ms) is None:
        return Int(-2)
    at = store.expiry.at_ms.get(key)
    if at is None:
        return Int(-1)
    left = max(at if absolute else at - now_ms, 0)
    return Int(left if in_ms else (left + 500) // 1000)


def persist(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """PERSIST key -> 1 if an expiry was removed."""
    key = args[1]
    if store.live(key, now_ms) is None or key not in store.expiry.at_ms:
        return ZERO
    store.set_expiry(key, None)
    return ONE


def dbsize(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """DBSIZE -> the number of stored keys (expired ones not yet deleted included)."""
    return Int(len(store.data))


def flush(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """FLUSHDB / FLUSHALL [ASYNC|SYNC]: delete every key (there is one database)."""
    if len(args) > 2 or (len(args) == 2 and args[1].upper() not in (b"ASYNC", b"SYNC")):
        return SYNTAX
    store.clear()
    return OK
