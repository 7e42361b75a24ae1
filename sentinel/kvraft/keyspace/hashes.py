"""Redis's hash commands over a `Store`, with Redis's replies and error texts
(src/t_hash.c). The value is a `Hash` (members.py).

Handlers take `(store, args, now_ms)` like those of strings.py, check everything that can
fail before their first change (so an error changes nothing), change a hash in place
through the store's undo log, and delete a hash that becomes empty. HRANDFIELD draws from
the command's generator (`typed.command_random`), seeded from the log entry.
"""

from __future__ import annotations

from sentinel.kvraft.keyspace import numbers
from sentinel.kvraft.keyspace.members import Hash
from sentinel.kvraft.keyspace.replies import (
    EMPTY_ARRAY,
    NAN_OR_INF,
    NOT_FLOAT,
    NULL,
    OK,
    ONE,
    OVERFLOW,
    SYNTAX,
    ZERO,
    Array,
    Bulk,
    Error,
    Int,
    Map,
    Reply,
    arity_error,
)
from sentinel.kvraft.keyspace.store import Store
from sentinel.kvraft.keyspace.typed import (
    OUT_OF_RANGE,
    TOO_MANY,
    WITH_VALUES_MAX,
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

NOT_INTEGER_FIELD = Error("ERR hash value is not an integer")
NOT_FLOAT_FIELD = Error("ERR hash value is not a float")
INCR_NAN_OR_INF = Error("ERR value is NaN or Infinity")


def _hash(store: Store, key: bytes, now_ms: int) -> Hash | Error | None:
    return lookup(store, key, now_ms, Hash)


def _open(store: Store, key: bytes, value: Hash | None) -> Hash:
    return open_value(store, key, value, Hash)


def hset(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HSET key field value [field value ...] -> the number of new fields; HMSET -> OK."""
    if len(args) % 2:
        return arity_error(args[0].lower().decode())
    value = _hash(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    # One pair is the common case: no zip. Of a repeated field, the last value wins.
    pairs = {args[2]: args[3]} if len(args) == 4 else dict(zip(args[2::2], args[3::2], strict=True))
    new = len(pairs) if value is None else len(pairs) - sum(map(value.__contains__, pairs))
    if over_limit(len(value or ()), new):
        return TOO_MANY
    value = _open(store, args[1], value)
    for field, data in pairs.items():
        value.put(field, data, store.on_undo)
    return OK if args[0].upper() == b"HMSET" else Int(new)


def hsetnx(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HSETNX key field value -> 1 if the field was set, 0 if it exists."""
    value = _hash(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    if value is not None and args[2] in value:
        return ZERO
    if over_limit(len(value or ()), 1):
        return TOO_MANY
    _open(store, args[1], value).put(args[2], args[3], store.on_undo)
    return ONE


def hget(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HGET key field"""
    value = _hash(store, args[1], now_ms)
    if value is None or isinstance(value, Error):
        return value or NULL
    data = value.get(args[2])
    return NULL if data is None else Bulk(data)


def hmget(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HMGET key field [field ...] -> a value or null per field."""
    value = _hash(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    found = [None if value is None else value.get(field) for field in args[2:]]
    return Array(tuple(NULL if data is None else Bulk(data) for data in found))


def hdel(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HDEL key field [field ...] -> how many fields were removed."""
    return remove_elements(store, args, now_ms, Hash)


def hexists(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HEXISTS key field -> 1 or 0."""
    return is_element(store, args, now_ms, Hash)


def hlen(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HLEN key -> the number of fields (0 for a missing key)."""
    value = _hash(store, args[1], now_ms)
    return value if isinstance(value, Error) else Int(len(value or ()))


def hgetall(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HGETALL key -> the fields and values (a map in RESP3, a flat array in RESP2)."""
    value = _hash(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    pairs = () if value is None else value.pairs()
    return Map(tuple((Bulk(field), Bulk(data)) for field, data in pairs))


def hkeys(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HKEYS key (HVALS key) -> the fields (the values)."""
    value = _hash(store, args[1], now_ms)
    if value is None or isinstance(value, Error):
        return value or EMPTY_ARRAY
    items = value.members() if args[0].upper() == b"HKEYS" else value.values()
    return Array(tuple(map(Bulk, items)))


def hstrlen(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HSTRLEN key field -> the length of the field's value (0 if absent)."""
    value = _hash(store, args[1], now_ms)
    if value is None or isinstance(value, Error):
        return value or ZERO
    return Int(len(value.get(args[2]) or b""))


def hincrby(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HINCRBY key field increment -> the new value, within signed 64 bits."""
    step = parse_count(args[3])
    if isinstance(step, Error):
        return step
    value = _hash(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    old = None if value is None else value.get(args[2])
    current = 0 if old is None else numbers.parse_int(old)
    if current is None:
        return NOT_INTEGER_FIELD
    total = current + step
    if not numbers.INT64_MIN <= total <= numbers.INT64_MAX:
        return OVERFLOW
    return _store_number(store, args, value, old, str(total).encode()) or Int(total)


def hincrbyfloat(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HINCRBYFLOAT key field increment -> the new value as a bulk string (long double,
    printed as Redis prints it: numbers.py)."""
    step = numbers.parse_long_double(args[3])
    if step is None:
        return NOT_FLOAT
    if isinstance(step, numbers.Infinite):
        return INCR_NAN_OR_INF
    value = _hash(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    old = None if value is None else value.get(args[2])
    total = numbers.add_long_doubles(b"0" if old is None else old, args[3])
    if total == "float":
        return NOT_FLOAT_FIELD
    if isinstance(total, str):
        return NAN_OR_INF
    return _store_number(store, args, value, old, total) or Bulk(total)


def _store_number(
    store: Store, args: list[bytes], value: Hash | None, old: bytes | None, text: bytes
) -> Error | None:
    """Set the field of HINCRBY / HINCRBYFLOAT to `text` (TOO_MANY if it cannot grow)."""
    if old is None and over_limit(len(value or ()), 1):
        return TOO_MANY
    _open(store, args[1], value).put(args[2], text, store.on_undo)
    return None


def hrandfield(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HRANDFIELD key [count [WITHVALUES]]: one random field (or null), or `count`
    distinct ones (a negative count: |count| with repeats), with their values if asked."""
    count: int | None = None
    with_values = False
    if len(args) >= 3:
        parsed = parse_random_count(args[2])
        if isinstance(parsed, Error):
            return parsed
        if len(args) > 4 or (len(args) == 4 and args[3].upper() != b"WITHVALUES"):
            return SYNTAX
        with_values = len(args) == 4
        if with_values and abs(parsed) > WITH_VALUES_MAX:
            return OUT_OF_RANGE
        count = parsed
    value = _hash(store, args[1], now_ms)
    if isinstance(value, Error):
        return value
    if count is None:
        if value is None:
            return NULL
        return Bulk(value.at(command_random(store).randrange(len(value))))
    if value is None or count == 0:
        return EMPTY_ARRAY
    if repeats_too_many(count):
        return OUT_OF_RANGE
    positions = value.positions(command_random(store), abs(count), distinct=count > 0)
    items: list[Reply] = []
    for position in positions:
        items.append(Bulk(value.at(position)))
        if with_values:
            items.append(Bulk(value.value_at(position)))
    return Array(tuple(items))


def hscan(store: Store, args: list[bytes], now_ms: int) -> Reply:
    """HSCAN key cursor [MATCH pattern] [COUNT count] -> [next cursor, [field, value ...]]."""
    found = scan_call(store, args, now_ms, Hash)
    if not isinstance(found, tuple):
        return found
    value, cursor, positions = found
    items: list[Reply] = []
    for position in positions:
        items.extend((Bulk(value.at(position)), Bulk(value.value_at(position))))
    return Array((Bulk(str(cursor).encode()), Array(tuple(items))))
