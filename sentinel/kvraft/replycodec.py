"""Keyspace replies <-> bytes: how a Redis command's reply travels from a server to the
client and how a session keeps its last write's reply (exactly-once retries get it again).

    reply = tag (1 byte) | payload
    S text | E text | B data          varint length + bytes (text as UTF-8)
    I value                            varint length + the decimal ASCII of a signed int
    D value                            varint length + repr() of the float (round-trips)
    N | n                              a null (n: the null array of an aborted EXEC)
    A count, count x reply             M count, count x (reply, reply)
    P count, count x reply             (Pairs: a flat array of member, score ...)
    L count, sizes, data                (Bulks) count, then two blobs: the sizes (uint32 LE
                                       each) and the strings, concatenated
    T count, sizes, data                (Bulks of a set's members) as L

The codec is neutral about RESP versions (the front door writes RESP2 or RESP3 from the
decoded reply). `decode_reply` raises ReplyError for anything that is not an encoding:
the bytes come off the network, so a bad server must not crash the client.
"""

from __future__ import annotations

import sys
from array import array
from itertools import accumulate, islice

from sentinel.kvraft.binary import Reader, Writer
from sentinel.kvraft.keyspace.replies import (
    Array,
    Bulk,
    Bulks,
    Double,
    Error,
    Int,
    Map,
    Null,
    Pairs,
    Reply,
    Simple,
)

#: Nesting of arrays in one reply (an EXEC's array of replies is two deep).
DEPTH_MAX = 8
_BLOB_BYTES_MAX = 2**32
_ITEMS_MAX = 2**24
_NUMBER_BYTES_MAX = 64
_NULL, _NULL_ARRAY = b"N", b"n"
_SWAP = sys.byteorder == "big"  # sizes are little-endian on every machine


class ReplyError(ValueError):
    """Bytes that are not an encoded reply."""


def encode_reply(reply: Reply) -> bytes:
    """The bytes of `reply` (same reply, same bytes)."""
    cls = type(reply)
    if cls is Null:
        return _NULL_ARRAY if reply.array else _NULL  # type: ignore[union-attr]
    if cls is Simple and reply.text == "OK":  # type: ignore[union-attr]
        return _OK_BYTES
    out = Writer()
    _write(out, reply, 0)
    return out.getvalue()


def _write(out: Writer, reply: Reply, depth: int) -> None:
    if depth > DEPTH_MAX:
        raise ValueError(f"a reply nests at most {DEPTH_MAX} arrays deep")
    cls = type(reply)
    if cls is Simple or cls is Error:
        out.byte(ord("S" if cls is Simple else "E"))
        out.blob(reply.text.encode())  # type: ignore[union-attr]
    elif cls is Bulk:
        out.byte(ord("B"))
        out.blob(reply.data)  # type: ignore[union-attr]
    elif cls is Int or cls is Double:
        out.byte(ord("I" if cls is Int else "D"))
        out.blob(repr(reply.value).encode())  # type: ignore[union-attr]
    elif cls is Bulks:
        items = reply.items  # type: ignore[union-attr]
        sizes = array("I", map(len, items))
        if _SWAP:
            sizes.byteswap()
        out.byte(ord("T" if reply.members else "L"))  # type: ignore[union-attr]
        out.uint(len(items))
        out.blob(sizes.tobytes())
        out.blob(b"".join(items))
    elif cls is Null:
        out.byte((_NULL_ARRAY if reply.array else _NULL)[0])  # type: ignore[union-attr]
    elif cls is Array or cls is Pairs:
        out.byte(ord("A" if cls is Array else "P"))
        out.uint(len(reply.items))  # type: ignore[union-attr]
        for item in reply.items:  # type: ignore[union-attr]
            _write(out, item, depth + 1)
    elif cls is Map:
        out.byte(ord("M"))
        out.uint(len(reply.pairs))  # type: ignore[union-attr]
        for key, value in reply.pairs:  # type: ignore[union-attr]
            _write(out, key, depth + 1)
            _write(out, value, depth + 1)
    else:
        raise TypeError(f"not a keyspace reply: {cls.__name__}")


def decode_reply(data: bytes) -> Reply:
    """The reply `encode_reply` made `data` from; ReplyError for anything else."""
    if type(data) is not bytes:
        raise ReplyError(f"an encoded reply is bytes, not {type(data).__name__}")
    if data[:1] == b"B" and len(data) > 1 and data[1] == len(data) - 2 < 0x80:
        return Bulk(data[2:])  # the common case: a short string
    common = _COMMON.get(data)
    if common is not None:
        return common
    reader = Reader(data, ReplyError)
    reply = _read(reader, 0)
    reader.finish()
    return reply


def _read(reader: Reader, depth: int) -> Reply:
    if depth > DEPTH_MAX:
        raise reader.fail(f"a reply nests at most {DEPTH_MAX} arrays deep")
    tag = chr(reader.byte())
    if tag == "S" or tag == "E":
        text = reader.text(_BLOB_BYTES_MAX)
        return Simple(text) if tag == "S" else Error(text)
    if tag == "B":
        return Bulk(reader.blob(_BLOB_BYTES_MAX))
    if tag == "I" or tag == "D":
        raw = reader.blob(_NUMBER_BYTES_MAX).decode("ascii", "replace")
        try:
            return Int(int(raw)) if tag == "I" else Double(float(raw))
        except ValueError:
            raise reader.fail(f"bad number {raw!r}") from None
    if tag == "L" or tag == "T":
        return _read_bulks(reader, members=tag == "T")
    if tag == "N" or tag == "n":
        return Null(array=tag == "n")
    if tag == "A" or tag == "P":
        count = reader.uint(_ITEMS_MAX)
        items = tuple(_read(reader, depth + 1) for _ in range(count))
        return Array(items) if tag == "A" else Pairs(items)
    if tag == "M":
        count = reader.uint(_ITEMS_MAX)
        return Map(
            tuple((_read(reader, depth + 1), _read(reader, depth + 1)) for _ in range(count))
        )
    raise reader.fail(f"unknown reply tag {tag!r}")


def _read_bulks(reader: Reader, members: bool) -> Bulks:
    count = reader.uint(_ITEMS_MAX)
    sizes = array("I")
    sizes.frombytes(reader.blob(count * sizes.itemsize, count * sizes.itemsize))
    if _SWAP:
        sizes.byteswap()
    data = reader.blob(_BLOB_BYTES_MAX)
    ends = list(accumulate(sizes, initial=0))
    if len(sizes) != count or ends[-1] != len(data):
        raise reader.fail(f"an array of {count} strings does not match its sizes")
    items = tuple(map(data.__getitem__, map(slice, ends, islice(ends, 1, None))))
    return Bulks(items, members)


_OK_BYTES = b"S\x02OK"
#: Frequent replies, decoded by one lookup (replies are immutable: shared safely).
_COMMON: dict[bytes, Reply] = {
    _OK_BYTES: Simple("OK"),
    _NULL: Null(),
    _NULL_ARRAY: Null(array=True),
    **{encode_reply(Int(n)): Int(n) for n in range(-1, 2)},
}
