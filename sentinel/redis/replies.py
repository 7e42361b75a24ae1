"""The reply side of RESP: Python values -> RESP2 or RESP3 bytes.

A reply is a plain Python value, so the backend and the front door build replies without
knowing the protocol version of the connection:

| value | RESP3 | RESP2 (as Redis degrades it) |
| --- | --- | --- |
| `bytes` / `str` (UTF-8) | bulk string `$` | the same |
| `int` | integer `:` | the same |
| `None` | null `_` | null bulk `$-1` |
| `NULL_ARRAY` | null `_` | null array `*-1` |
| `bool` | boolean `#t`/`#f` | integer `:1`/`:0` |
| `float` | double `,` (`inf`, `-inf`, `nan`) | bulk string of the same text |
| `list` / `tuple` | array `*` | the same |
| `dict` | map `%` | flat array `*` of key, value, key, value ... |
| `set` / `frozenset` / `ReplySet` | set `~` (`ReplySet` keeps its order) | array `*` |
| `Pairs(member, score, ...)` | array of 2-element arrays | flat array `*` |
| `BulkStrings(bytes, ...)` | array `*` of bulk strings | the same |
| `Simple("OK")` | simple string `+` | the same |
| `Error("ERR ...")` | error `-` (first word is the code) | the same |
| `Verbatim(text, "txt")` | verbatim string `=` | bulk string of the text |
| `BigNumber(n)` | big number `(` | bulk string of the digits |

Error texts and simple strings cannot hold CR or LF; they are replaced by spaces, as Redis does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The store's status and error replies are the front door's too: one type of each.
from sentinel.kvraft.keyspace.numbers import format_double
from sentinel.kvraft.keyspace.replies import Error, Simple


@dataclass(frozen=True, slots=True)
class Verbatim:
    """A verbatim string (INFO's text in RESP3); `format` is 3 letters: `txt` or `mkd`."""

    text: str
    format: str = "txt"


@dataclass(frozen=True, slots=True)
class BigNumber:
    """An integer outside the 64-bit range, sent as digits."""

    value: int


class ReplySet(tuple):
    """A set reply whose members go out in a fixed order (COMMAND's flags, for stable output)."""

    __slots__ = ()


class Pairs(tuple):
    """Member/score pairs, flat: ZRANGE WITHSCORES and ZPOPMIN with a count, which Redis 7
    nests in RESP3 (an array of [member, score] arrays) and sends flat in RESP2."""

    __slots__ = ()


class BulkStrings(tuple):
    """An array of bulk strings (bytes), written in one pass of C loops: LRANGE's and
    ZRANGE's replies, where a call per element was most of a 100-element reply's cost."""

    __slots__ = ()


class _NullArray:
    """The type of NULL_ARRAY (a singleton)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NULL_ARRAY"


#: A null where Redis 2 sends `*-1` (an aborted EXEC, a blocking pop timing out).
NULL_ARRAY = _NullArray()
OK = Simple("OK")
QUEUED = Simple("QUEUED")
PONG = Simple("PONG")

_OK2 = b"+OK\r\n"
_NEWLINES = str.maketrans("\r\n", "  ")
_BULK = b"$%d\r\n%b\r\n"


def error(text: str) -> Error:
    """An `ERR` error reply."""
    return Error("ERR " + text)


#: The reply to a request whose handling failed with a bug (logged where it happened).
INTERNAL_ERROR = error("internal error (see the server log)")


def encode(reply: Any, proto: int = 2) -> bytes:
    """The RESP bytes of one reply for protocol version `proto` (2 or 3)."""
    if reply is OK or (type(reply) is Simple and reply.text == "OK"):  # SET's, the store's
        return _OK2
    if type(reply) is bytes:
        return b"$%d\r\n%b\r\n" % (len(reply), reply)
    out: list[bytes] = []
    _encode(reply, proto == 3, out)
    return b"".join(out)


def _encode(reply: Any, resp3: bool, out: list[bytes]) -> None:
    """Append the encoding of `reply` to `out`."""
    kind = type(reply)
    if kind is bytes or kind is bytearray or kind is memoryview:
        out.append(b"$%d\r\n%b\r\n" % (len(reply), reply))
    elif kind is str:
        _encode(reply.encode("utf-8"), resp3, out)
    elif kind is bool:
        out.append((b"#t\r\n" if reply else b"#f\r\n") if resp3 else b":%d\r\n" % reply)
    elif kind is int:
        out.append(b":%d\r\n" % reply)
    elif reply is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif reply is NULL_ARRAY:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif kind is list or kind is tuple:
        out.append(b"*%d\r\n" % len(reply))
        for item in reply:
            _encode(item, resp3, out)
    else:
        _encode_other(reply, resp3, out)


def _encode_other(reply: Any, resp3: bool, out: list[bytes]) -> None:
    """The less common reply types (see the module's table)."""
    if isinstance(reply, Simple):
        out.append(b"+%b\r\n" % reply.text.translate(_NEWLINES).encode("utf-8"))
    elif isinstance(reply, Error):
        out.append(b"-%b\r\n" % reply.text.translate(_NEWLINES).encode("utf-8"))
    elif isinstance(reply, dict):
        out.append((b"%%%d\r\n" if resp3 else b"*%d\r\n") % (len(reply) * (1 if resp3 else 2)))
        for key, value in reply.items():
            _encode(key, resp3, out)
            _encode(value, resp3, out)
    elif isinstance(reply, BulkStrings):
        out.append(b"*%d\r\n" % len(reply))
        out.append(b"".join(map(_BULK.__mod__, zip(map(len, reply), reply, strict=True))))
    elif isinstance(reply, Pairs):
        if not resp3:
            out.append(b"*%d\r\n" % len(reply))
            for item in reply:
                _encode(item, resp3, out)
            return
        out.append(b"*%d\r\n" % (len(reply) // 2))
        for index in range(0, len(reply) - 1, 2):
            out.append(b"*2\r\n")
            _encode(reply[index], resp3, out)
            _encode(reply[index + 1], resp3, out)
    elif isinstance(reply, set | frozenset | ReplySet):
        out.append((b"~%d\r\n" if resp3 else b"*%d\r\n") % len(reply))
        for item in reply:
            _encode(item, resp3, out)
    elif isinstance(reply, float):
        text = format_double(reply).encode("ascii")
        out.append(b",%b\r\n" % text if resp3 else b"$%d\r\n%b\r\n" % (len(text), text))
    elif isinstance(reply, Verbatim):
        data = reply.text.encode("utf-8")
        if resp3:
            fmt = reply.format.encode("ascii")
            out.append(b"=%d\r\n%b:%b\r\n" % (len(data) + 4, fmt, data))
        else:
            out.append(b"$%d\r\n%b\r\n" % (len(data), data))
    elif isinstance(reply, BigNumber):
        digits = str(reply.value).encode("ascii")
        out.append(b"(%b\r\n" % digits if resp3 else b"$%d\r\n%b\r\n" % (len(digits), digits))
    elif isinstance(reply, int):  # an int subclass (IntEnum)
        out.append(b":%d\r\n" % reply)
    else:
        raise TypeError(f"not a reply value: {type(reply).__name__}")
