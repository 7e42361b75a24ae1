"""Redis's string commands over a `Store`, with Redis's replies and error texts.

Each handler takes `(store, args, now_ms)` where `args[0]` is the command name and the
arity was checked by the command table (commands.py), and returns a `Reply`. A handler
checks everything that can fail before its first change, so a command that answers an
error changed nothing. Values never grow past VALUE_BYTES_MAX: APPEND and SETRANGE refuse
with Redis's "string exceeds maximum allowed size" error.
"""

from __future__ import annotations

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.replies import (
    DECR_OVERFLOW,
    EMPTY_BULK,
    NAN_OR_INF,
    NOT_FLOAT,
    NOT_INTEGER,
    NULL,
    OFFSET_RANGE,
    OK,
    ONE,
    OVERFLOW,
    SYNTAX,
    TOO_BIG,
    WRONGTYPE,
    ZERO,
    Array,
    Bulk,
    Error,
    Int,
    Reply,
    expire_error,
)
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.values import VALUE_BYTES_MAX

_EXPIRE_UNITS = {b"EX": 1000, b"PX": 1, b"EXAT": 1000, b"PXAT": 1}
_RELATIVE = {b"EX", b"PX"}
_OTHER = {b"NX": b"XX", b"XX": b"NX"}
_EXPIRY_LIKE = {b"KEEPTTL", b"PERSIST", *_EXPIRE_UNITS}


def lookup_string(store: Store, key: bytes, now_ms: int) -> bytes | Error | None:
    """The string at `key`, None if absent, or WRONGTYPE if it holds another type."""
    value = store.live(key, now_ms)
    if value is None or type(value) is bytes:
        return value
    return WRONGTYPE


def expire_at(option: bytes, amount: bytes, now_ms: int, command: str) -> int | Error:
    """The absolute expiry time (ms) of SET/GETEX's EX/PX/EXAT/PXAT `amount`, or the error:
    Redis wants a positive number whose time in ms fits a signed 64-bit integer."""
    number = numbers.parse_int(amount)
    if number is None:
        return NOT_INTEGER
    unit = _EXPIRE_UNITS[option]
    if number <= 0 or number > numbers.INT64_MAX // unit:
        return expire_error(command)
    when = number * unit + (now_ms if option in _RELATIVE else 0)
    return when if when <= numbers.INT64_MAX else expire_error(command)


def _flag_ok(word: bytes, flags: set[bytes], getex: bool) -> bool:
    """Whether a SET/GETEX flag without an argument may join `flags`."""
    if word in _OTHER:
        return not getex and _OTHER[word] not in flags
    if word == b"GET":
        return not getex
    if word == (b"PERSIST" if getex else b"KEEPTTL"):
        return not (_EXPIRY_LIKE - {word}) & flags
    return False


def _parse_set(args: list[bytes], getex: bool) -> tuple[set[bytes], bytes | None, bytes] | Error:
    """SET's (or GETEX's) flags, expiry option and its amount; the rules of Redis's
    parseExtendedStringArgumentsOrReply (conflicting options are a syntax error)."""
    flags: set[bytes] = set()
    option: bytes | None = None
    amount = b""
    i = 2 if getex else 3
    while i < len(args):
        word = args[i].upper()
        if word in _EXPIRE_UNITS and i + 1 < len(args) and not (_EXPIRY_LIKE - {word}) & flags:
            flags.add(word)
            option, amount = word, args[i + 1]
            i += 1
        elif _flag_ok(word, flags, getex):
            flags.add(word)
        else:
            return SYNTAX
        i += 1
    return flags, option, amount


def set_(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]"""
    parsed = _parse_set(args, getex=False)
    if isinstance(parsed, Error):
        return parsed
    flags, option, amount = parsed
    return _set(store, args[1], args[2], now_ms, flags, option, amount, "set")


def _set(
    store: Store,
    key: bytes,
    value: bytes,
    now_ms: int,
    flags: set[bytes] | frozenset[bytes],
    option: bytes | None,
    amount: bytes,
    command: str,
    ok: Reply = OK,
    abort: Reply = NULL,
) -> Reply:
    when: int | None = None
    if option is not None:
        found_when = expire_at(option, amount, now_ms, command)
        if isinstance(found_when, Error):
            return found_when
        when = found_when
    old = store.live(key, now_ms)
    if b"GET" in flags:
        if old is not None and type(old) is not bytes:
            return WRONGTYPE
        ok = abort = NULL if old is None else Bulk(old)  # type: ignore[arg-type]
    if (b"NX" in flags and old is not None) or (b"XX" in flags and old is None):
        return abort
    if b"KEEPTTL" in flags and old is not None:
        store.put(key, value)
    else:
        store.put(key, value, when)
    return ok


def setnx(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SETNX key value -> 1 if set, 0 if the key exists."""
    return _set(store, args[1], args[2], now_ms, {b"NX"}, None, b"", "setnx", ONE, ZERO)


def setex(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SETEX key seconds value / PSETEX key milliseconds value."""
    name = args[0].lower().decode()
    option = b"EX" if name == "setex" else b"PX"
    return _set(store, args[1], args[3], now_ms, frozenset(), option, args[2], name)


def get(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """GET key"""
    value = lookup_string(store, args[1], now_ms)
    return value if isinstance(value, Error) else NULL if value is None else Bulk(value)


def getset(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """GETSET key value: SET key value GET."""
    return _set(store, args[1], args[2], now_ms, {b"GET"}, None, b"", "getset")


def getdel(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """GETDEL key: the value, and the key is deleted (an expired one too, as DEL does)."""
    value = lookup_string(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    store.remove(args[1], now_ms)
    return NULL if value is None else Bulk(value)


def getex(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]"""
    parsed = _parse_set(args, getex=True)
    if isinstance(parsed, Error):
        return parsed
    flags, option, amount = parsed
    key = args[1]
    value = lookup_string(store, key, now_ms)
    if value is None or isinstance(value, Error):
        return NULL if value is None else value
    if option is not None:
        when = expire_at(option, amount, now_ms, "getex")
        if isinstance(when, Error):
            return when
        if when <= now_ms:  # an absolute time already past deletes the key
            store.remove(key, now_ms)
        else:
            store.set_expiry(key, when)
    elif b"PERSIST" in flags and key in store.expiry.at_ms:
        store.set_expiry(key, None)
    return Bulk(value)


def mget(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """MGET key [key ...]: a null for a missing key or one of another type."""
    items = []
    for key in args[1:]:
        value = store.live(key, now_ms)
        items.append(Bulk(value) if type(value) is bytes else NULL)
    return Array(tuple(items))


def mset(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """MSET key value [key value ...] / MSETNX (1 if all were set, 0 and nothing if any
    key exists)."""
    if len(args) % 2 == 0:
        return Error(f"ERR wrong number of arguments for '{args[0].lower().decode()}' command")
    pairs = [(args[i], args[i + 1]) for i in range(1, len(args), 2)]
    if args[0].upper() == b"MSETNX":
        if any(store.live(key, now_ms) is not None for key, _ in pairs):
            return ZERO
        for key, value in pairs:
            store.put(key, value, None)
        return ONE
    for key, value in pairs:
        store.put(key, value, None)
    return OK


def append(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """APPEND key value -> the new length."""
    old = lookup_string(store, args[1], now_ms)
    if isinstance(old, Error):
        return old
    if old is None:
        store.put(args[1], args[2], None)
        return Int(len(args[2]))
    if len(old) + len(args[2]) > VALUE_BYTES_MAX:
        return TOO_BIG
    store.put(args[1], old + args[2])
    return Int(len(old) + len(args[2]))


def strlen(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """STRLEN key (0 for a missing key)."""
    value = lookup_string(store, args[1], now_ms)
    return value if isinstance(value, Error) else Int(len(value or b""))


def getrange(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """GETRANGE key start end: inclusive, negative offsets count from the end."""
    start, end = numbers.parse_int(args[2]), numbers.parse_int(args[3])
    if start is None or end is None:
        return NOT_INTEGER
    value = lookup_string(store, args[1], now_ms)
    if value is None or isinstance(value, Error):
        return EMPTY_BULK if value is None else value
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return EMPTY_BULK
    start = max(start + size if start < 0 else start, 0)
    end = max(end + size if end < 0 else end, 0)
    end = min(end, size - 1)
    if start > end or size == 0:
        return EMPTY_BULK
    return Bulk(value[start : end + 1])


def setrange(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """SETRANGE key offset value -> the new length (zero bytes pad a gap)."""
    offset = numbers.parse_int(args[2])
    if offset is None:
        return NOT_INTEGER
    if offset < 0:
        return OFFSET_RANGE
    old = lookup_string(store, args[1], now_ms)
    if isinstance(old, Error):
        return old
    patch = args[3]
    if not patch:
        return Int(len(old or b""))
    if offset + len(patch) > VALUE_BYTES_MAX:
        return TOO_BIG
    base = old or b""
    if len(base) < offset:
        base += bytes(offset - len(base))
    new = base[:offset] + patch + base[offset + len(patch) :]
    if old is None:
        store.put(args[1], new, None)
    else:
        store.put(args[1], new)
    return Int(len(new))


def incr(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """INCR, DECR, INCRBY, DECRBY: the new value, kept within signed 64 bits."""
    name = args[0].upper()
    if name in (b"INCR", b"DECR"):
        step = 1
    else:
        parsed = numbers.parse_int(args[2])
        if parsed is None:
            return NOT_INTEGER
        step = parsed
    if name.startswith(b"DECR"):
        if step == numbers.INT64_MIN:
            return DECR_OVERFLOW
        step = -step
    old = lookup_string(store, args[1], now_ms)
    if isinstance(old, Error):
        return old
    current = 0 if old is None else numbers.parse_int(old)
    if current is None:
        return NOT_INTEGER
    total = current + step
    if not numbers.INT64_MIN <= total <= numbers.INT64_MAX:
        return OVERFLOW
    text = str(total).encode()
    if old is None:
        store.put(args[1], text, None)
    else:
        store.put(args[1], text)
    return Int(total)


def incrbyfloat(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """INCRBYFLOAT key increment: the new value as a bulk string, computed as Redis does in
    long double (numbers.py)."""
    old = lookup_string(store, args[1], now_ms)
    if isinstance(old, Error):
        return old
    total = numbers.add_long_doubles(b"0" if old is None else old, args[2])
    if isinstance(total, str):
        return NOT_FLOAT if total == "float" else NAN_OR_INF
    if old is None:
        store.put(args[1], total, None)
    else:
        store.put(args[1], total)
    return Bulk(total)
