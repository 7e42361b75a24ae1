"""The snapshot format of the key/value state machine.

    b"KVS" | version (1) | applied_index | n_keys | (key, value) * n_keys
           | n_sessions | (client_id, seq, code, last_index) * n_sessions | crc32 (4 bytes, BE)

Ints are unsigned LEB128 varints, text is varint length + UTF-8, `code` is one byte (the
ResultCode value). Keys are written in sorted order and sessions in (last_index, client_id)
order, so the same state always gives the same bytes, whatever order a dict was filled in.
A store of one small key and one session is about 25 bytes (6.824 wants <= 500).

`decode_snapshot` checks the checksum first, then every field, and raises SnapshotError for
anything else; it builds new objects and never touches a live state machine.

Speed: a node decodes a snapshot when it restarts and when a leader sends it one (its loop
waits for the decode), and every node encodes one at each compaction: a 13 MB store of 100,000
keys takes ~1 s to decode field by field through `Reader` (a method call per varint), long
enough to miss heartbeats. The items are therefore read and written by flat loops
(`_read_items_fast`, `_write_items`) that accept only the plain case: one-byte key lengths,
canonical varints, sorted non-empty keys, valid UTF-8. Anything else is decoded again by the
careful `Reader` path, which either accepts it (same result) or names the problem, so the fast
path never accepts what the careful one refuses.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from operator import lt

from sentinel.kvraft.binary import UINT_MAX, Reader, Writer, uint_bytes
from sentinel.kvraft.limits import (
    CLIENT_ID_MAX,
    KEY_BYTES_MAX,
    SEQ_MAX,
    VALUE_BYTES_MAX,
    InvalidRequest,
    validate_key,
)
from sentinel.kvraft.results import WRITE_REPLY_CODES, ResultCode
from sentinel.kvraft.sessions import Session

MAGIC = b"KVS"
VERSION = 1
_HEAD = MAGIC + bytes([VERSION])
_CRC_BYTES = 4


class SnapshotError(ValueError):
    """Bytes that are not a valid key/value snapshot."""


@dataclass(frozen=True, slots=True)
class SnapshotState:
    """Everything a snapshot holds, as plain data."""

    applied_index: int
    items: tuple[tuple[str, str], ...]  # sorted by key
    sessions: tuple[Session, ...]  # sorted by (last_index, client_id)
    #: Filled by `decode_snapshot` when it read the sizes anyway (else None): the UTF-8
    #: size of each value, in `items` order, and of all keys together, so a restore need not
    #: encode 100,000 strings again to count its bytes. Not part of the state's identity.
    value_sizes: tuple[int, ...] | None = field(default=None, compare=False)
    keys_bytes: int | None = field(default=None, compare=False)


def encode_snapshot(state: SnapshotState) -> bytes:
    """Deterministic bytes for `state` (items and sessions are sorted here)."""
    out = Writer(_HEAD)
    out.uint(state.applied_index)
    items = sorted(state.items)
    out.uint(len(items))
    head = out.getvalue()
    out = Writer()
    sessions = sorted(state.sessions, key=lambda s: (s.last_index, s.client_id))
    out.uint(len(sessions))
    for session in sessions:
        out.uint(session.client_id)
        out.uint(session.seq)
        out.byte(session.code.value)
        out.uint(session.last_index)
    body = b"".join((head, _write_items(items), out.getvalue()))
    return body + zlib.crc32(body).to_bytes(_CRC_BYTES, "big")


def decode_snapshot(data: bytes | bytearray | memoryview) -> SnapshotState:
    """Parse and check snapshot bytes. Raises SnapshotError naming the problem."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SnapshotError(f"a snapshot must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if data[: len(_HEAD)] != _HEAD:
        raise SnapshotError(f"not a key/value snapshot (header {data[: len(_HEAD)]!r})")
    if len(data) < len(_HEAD) + _CRC_BYTES:
        raise SnapshotError(f"truncated snapshot of {len(data)} bytes")
    body, crc = data[:-_CRC_BYTES], int.from_bytes(data[-_CRC_BYTES:], "big")
    if zlib.crc32(body) != crc:
        raise SnapshotError("corrupt snapshot: checksum mismatch")
    return decode_body(body)


def decode_body(body: bytes, fast: bool = True) -> SnapshotState:
    """The fields of a checked snapshot body (no checksum). `fast=False` reads every field
    through `Reader` (the reference the fast path is tested against)."""
    reader = Reader(body, SnapshotError, start=len(_HEAD))
    applied_index = reader.uint(UINT_MAX)
    # Where the items start: the varint just read was canonical, so its length is that of
    # its canonical form.
    start = len(_HEAD) + len(uint_bytes(applied_index))
    fast_items = _read_items_fast(body, start) if fast else None
    value_sizes = keys_bytes = None
    if fast_items is not None:
        items, value_sizes, keys_bytes, end = fast_items
        reader = Reader(body, SnapshotError, start=end)
    else:  # something unusual: the careful reader accepts it or says what is wrong
        items = _read_items(reader)
    sessions = _read_sessions(reader, applied_index)
    reader.finish()
    return SnapshotState(applied_index, items, sessions, value_sizes, keys_bytes)


#: Varint bytes of every value below this (a 4 KB value's length takes two bytes).
_VARINT_TABLE_MAX = 1 << 14


_VARINTS = [uint_bytes(n) for n in range(_VARINT_TABLE_MAX)]


def _write_items(items: list[tuple[str, str]]) -> bytes:
    """(key, value) pairs as `Writer.text` would write them, in one join."""
    table, table_max = _VARINTS, _VARINT_TABLE_MAX
    parts: list[bytes] = []
    extend = parts.extend
    for key, value in items:
        kb = key.encode("utf-8")
        vb = value.encode("utf-8")
        kn, vn = len(kb), len(vb)
        extend(
            (
                table[kn] if kn < table_max else uint_bytes(kn),
                kb,
                table[vn] if vn < table_max else uint_bytes(vn),
                vb,
            )
        )
    return b"".join(parts)


_FastItems = tuple[tuple[tuple[str, str], ...], tuple[int, ...], int, int]


def _read_items_fast(body: bytes, pos: int) -> _FastItems | None:
    """The items starting at `pos` (after their count), their value sizes, their keys' size
    and where they end; None when anything is not the plain case (see the module
    docstring). Accepts only what `_read_items` accepts."""
    try:
        count = Reader(body, SnapshotError, start=pos).uint()
    except SnapshotError:
        return None
    pos += len(uint_bytes(count))
    if 2 * count > len(body) - pos:
        return None  # every item takes at least two bytes: truncated or garbage
    keys: list[str] = []
    values: list[str] = []
    sizes: list[int] = []
    keys_bytes = 0
    key_bytes_max, value_bytes_max = KEY_BYTES_MAX, VALUE_BYTES_MAX
    try:
        for _ in range(count):
            kn = body[pos]
            if not 0 < kn < 0x80 or kn > key_bytes_max:
                return None
            end = pos + 1 + kn
            if end >= len(body):
                return None
            key = body[pos + 1 : end].decode("utf-8")
            vn = body[end]
            if vn < 0x80:
                pos = end + 1
            else:
                vn2 = body[end + 1]
                if not 0 < vn2 < 0x80:
                    return None  # three or more bytes, or not canonical
                vn = (vn & 0x7F) | (vn2 << 7)
                pos = end + 2
            if vn > value_bytes_max:
                return None
            end = pos + vn
            if end > len(body):
                return None
            values.append(body[pos:end].decode("utf-8"))
            sizes.append(vn)
            keys.append(key)
            keys_bytes += kn
            pos = end
    except (IndexError, UnicodeDecodeError):
        return None
    if len(keys) > 1 and not all(map(lt, keys, keys[1:])):
        return None  # out of order or repeated
    return tuple(zip(keys, values, strict=True)), tuple(sizes), keys_bytes, pos


def _read_items(reader: Reader) -> tuple[tuple[str, str], ...]:
    count = reader.uint()
    items: list[tuple[str, str]] = []
    for _ in range(count):
        key = reader.text(KEY_BYTES_MAX)
        value = reader.text(VALUE_BYTES_MAX)
        try:
            validate_key(key)
        except InvalidRequest as exc:
            raise reader.fail(f"bad key: {exc}") from None
        if items and key <= items[-1][0]:
            raise reader.fail(f"keys out of order or repeated: {key!r}")
        items.append((key, value))
    return tuple(items)


def _read_sessions(reader: Reader, applied_index: int) -> tuple[Session, ...]:
    count = reader.uint()
    sessions: list[Session] = []
    seen: set[int] = set()
    for _ in range(count):
        client_id = reader.uint(CLIENT_ID_MAX)
        seq = reader.uint(SEQ_MAX)
        code = _read_code(reader)
        last_index = reader.uint(applied_index)
        if client_id == 0 or client_id in seen or client_id > last_index:
            raise reader.fail(f"bad session client id {client_id}")
        session = Session(client_id, seq, code, last_index)
        if sessions and (last_index, client_id) <= (
            sessions[-1].last_index,
            sessions[-1].client_id,
        ):
            raise reader.fail("sessions out of order")
        seen.add(client_id)
        sessions.append(session)
    return tuple(sessions)


def _read_code(reader: Reader) -> ResultCode:
    raw = reader.byte()
    try:
        code = ResultCode(raw)
    except ValueError:
        raise reader.fail(f"unknown result code {raw}") from None
    if code not in WRITE_REPLY_CODES:
        raise reader.fail(f"result code {code.name} cannot be a session's reply")
    return code
