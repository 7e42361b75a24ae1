"""The replies a keyspace command gives, codec-neutral: the RESP layer serialises them.

A reply is one of a few frozen dataclasses. They mirror RESP's kinds, so the writer maps
each one-to-one: `Simple` (+OK), `Error` (-ERR ...), `Int` (:1), `Bulk` ($3 foo), `Null`
(RESP2 `$-1` or `*-1` as `Null.array` says; RESP3 `_`), `Array` (*n), and for RESP3 where
Redis uses them `Double` (`,` ; RESP2 writes it as a bulk string), `Map` (`%`; RESP2 a
flat array) and `Pairs` (an array of 2-arrays; RESP2 a flat array). `Bulks` is an array of
bulk strings in a cheaper form. `Error.text` is the
whole error line without the leading '-', e.g.
"WRONGTYPE Operation against a key holding the wrong kind of value".

The error texts are Redis's own (src/server.c `shared.*` objects, src/t_string.c,
src/expire.c, src/db.c), so clients that match on them keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from sentinel.kvraft.limits import COLLECTION_ELEMENTS_MAX


@dataclass(frozen=True, slots=True)
class Simple:
    """A status reply such as OK or the type name of TYPE."""

    text: str


@dataclass(frozen=True, slots=True)
class Error:
    """An error reply: the first word is the error code (ERR, WRONGTYPE, ...)."""

    text: str


@dataclass(frozen=True, slots=True)
class Int:
    """An integer reply (a signed 64-bit value)."""

    value: int


@dataclass(frozen=True, slots=True)
class Bulk:
    """A binary-safe string."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Null:
    """No value: a missing key (`array=False`, RESP2 `$-1`) or an aborted EXEC (`*-1`)."""

    array: bool = False


@dataclass(frozen=True, slots=True)
class Array:
    """An ordered list of replies."""

    items: tuple[Reply, ...]


@dataclass(frozen=True, slots=True)
class Double:
    """A floating point reply (RESP3 `,`; a bulk string in RESP2)."""

    value: float


@dataclass(frozen=True, slots=True)
class Map:
    """Key/value pairs in order (RESP3 `%`; a flat array in RESP2)."""

    pairs: tuple[tuple[Reply, Reply], ...]


@dataclass(frozen=True, slots=True)
class Pairs:
    """Member/score pairs, flat (member, score, member, score ...): ZRANGE WITHSCORES,
    ZPOPMIN with a count. RESP3 nests each pair in an array of two; RESP2 sends the flat
    array (Redis 7's replies)."""

    items: tuple[Reply, ...]


@dataclass(frozen=True, slots=True)
class Bulks:
    """An array of bulk strings held as plain bytes (LRANGE, ZRANGE): the same reply as an
    `Array` of `Bulk`, built, carried and written without an object per element.

    `members` marks the members of a set (SMEMBERS, SINTER, SUNION, SDIFF, SPOP with a
    count), which RESP3 sends as a set (`~`) and RESP2 as an array, as Redis does."""

    items: tuple[bytes, ...]
    members: bool = False


Reply: TypeAlias = Simple | Error | Int | Bulk | Null | Array | Double | Map | Pairs | Bulks

OK = Simple("OK")
NULL = Null()
NULL_ARRAY = Null(array=True)
ZERO = Int(0)
ONE = Int(1)
EMPTY_BULK = Bulk(b"")
EMPTY_ARRAY = Array(())
EMPTY_MEMBERS = Bulks((), members=True)

WRONGTYPE = Error("WRONGTYPE Operation against a key holding the wrong kind of value")
SYNTAX = Error("ERR syntax error")
NOT_INTEGER = Error("ERR value is not an integer or out of range")
NOT_FLOAT = Error("ERR value is not a valid float")
OVERFLOW = Error("ERR increment or decrement would overflow")
DECR_OVERFLOW = Error("ERR decrement would overflow")
NAN_OR_INF = Error("ERR increment would produce NaN or Infinity")
NO_SUCH_KEY = Error("ERR no such key")
TOO_BIG = Error("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
OFFSET_RANGE = Error("ERR offset is out of range")
INVALID_CURSOR = Error("ERR invalid cursor")


#: A command that would grow a collection past COLLECTION_ELEMENTS_MAX.
TOO_MANY = Error(f"ERR a collection holds at most {COLLECTION_ELEMENTS_MAX} elements")
#: A count (LPOP's, ZPOPMIN's, SPOP's ...) that is negative or not an integer.
MUST_BE_POSITIVE = Error("ERR value is out of range, must be positive")


def expire_error(command: str) -> Error:
    """Redis's error for an expire time that is not positive or overflows."""
    return Error(f"ERR invalid expire time in '{command}' command")


def arity_error(command: str) -> Error:
    """Redis's error for a wrong number of arguments (command name in lower case)."""
    return Error(f"ERR wrong number of arguments for '{command}' command")


def unknown_command(args: list[bytes]) -> Error:
    """Redis's error for a command this keyspace does not know."""
    name = args[0].decode("utf-8", "replace")[:128] if args else ""
    shown = "".join(f"'{a.decode('utf-8', 'replace')[:128]}' " for a in args[1:])
    return Error(f"ERR unknown command '{name}', with args beginning with: {shown}")
